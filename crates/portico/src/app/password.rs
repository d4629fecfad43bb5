//! Password hashing with argon2id, run on the blocking pool so that a
//! deliberately slow hash never stalls the async runtime.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use secrecy::{ExposeSecret, SecretString};

/// The shortest password Portico accepts.
pub const MIN_PASSWORD_CHARS: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("A password needs at least {MIN_PASSWORD_CHARS} characters.")]
    TooShort,
    #[error("A password can be at most 1024 characters.")]
    TooLong,
    #[error("could not hash the password: {0}")]
    Hash(String),
}

/// Checks a new password's length, then hashes it (argon2id, random salt).
pub async fn hash_password(password: SecretString) -> Result<String, PasswordError> {
    let chars = password.expose_secret().chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if chars > 1024 {
        return Err(PasswordError::TooLong);
    }
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hash(e.to_string()))
    })
    .await
    .map_err(|e| PasswordError::Hash(e.to_string()))?
}

/// True when `password` matches the stored hash. A malformed hash is a
/// mismatch, never an error the caller could tell apart.
pub async fn verify_password(password: SecretString, stored_hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        let Ok(hash) = PasswordHash::new(&stored_hash) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &hash)
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash_password(SecretString::from("correct horse battery"))
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(SecretString::from("correct horse battery"), hash.clone()).await);
        assert!(!verify_password(SecretString::from("wrong horse battery"), hash).await);
        assert!(!verify_password(SecretString::from("x"), "not a hash".into()).await);
    }

    #[tokio::test]
    async fn short_passwords_are_refused() {
        assert!(matches!(
            hash_password(SecretString::from("short")).await,
            Err(PasswordError::TooShort)
        ));
    }
}
