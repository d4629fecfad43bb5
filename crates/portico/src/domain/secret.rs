//! Secrets handed to people (session ids, links in e-mails): 256 random
//! bits, URL-safe; only their SHA-256 is ever stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use super::Millis;

/// A freshly issued secret and the hash to store for it.
#[derive(Clone)]
pub struct IssuedSecret {
    /// Goes to the person (cookie, link); never stored, never logged.
    pub secret: String,
    /// Goes to the database.
    pub hash: String,
}

impl std::fmt::Debug for IssuedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedSecret")
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

pub fn issue_secret() -> IssuedSecret {
    let bytes: [u8; 32] = rand::random();
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_secret(&secret);
    IssuedSecret { secret, hash }
}

/// The stored form of a secret: SHA-256, hex. A 256-bit random secret needs
/// no salt or slow hash; an attacker with the database cannot invert it.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The time as Portico sees it: the system clock, or in tests a clock that
/// only moves when told to.
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    pub fn system() -> Self {
        Self(None)
    }

    pub fn manual(start: Millis) -> Self {
        Self(Some(Arc::new(AtomicI64::new(start.0))))
    }

    pub fn now(&self) -> Millis {
        match &self.0 {
            None => Millis::now(),
            Some(at) => Millis(at.load(Ordering::SeqCst)),
        }
    }

    /// Moves a manual clock forward; the system clock ignores this.
    pub fn advance(&self, by: std::time::Duration) {
        if let Some(at) = &self.0 {
            at.fetch_add(
                i64::try_from(by.as_millis()).unwrap_or(i64::MAX),
                Ordering::SeqCst,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_hashed() {
        let a = issue_secret();
        let b = issue_secret();
        assert_eq!(a.secret.len(), 43);
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.hash, hash_secret(&a.secret));
        assert_eq!(a.hash.len(), 64);
        assert!(!format!("{a:?}").contains(&a.secret));
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = Clock::manual(Millis(1_000));
        assert_eq!(clock.now(), Millis(1_000));
        clock.advance(std::time::Duration::from_secs(2));
        assert_eq!(clock.now(), Millis(3_000));
    }
}
