//! The server's secret key and what is derived from it.
//!
//! One 256-bit key, from the configuration (`secret_key`) or generated into
//! `<data_dir>/secret.key` (mode 0600) on first start, is the root of:
//! - the encryption of secrets stored in the database (two-factor secrets),
//!   with XChaCha20-Poly1305 under a key derived with HKDF-SHA256 and the
//!   label [`SEAL_LABEL`];
//! - the anti-forgery tokens of signed-in sessions, an HMAC-SHA256 of the
//!   session id under a key derived with the label [`CSRF_LABEL`];
//! - the reply addresses of notification e-mails (X11), whose local part
//!   carries an HMAC-SHA256 under a key derived with [`REPLY_LABEL`];
//! - the key id written next to every sealed value, so that a value sealed
//!   under another key is recognised as such (label [`ID_LABEL`]).
//!
//! Several instances of Portico on one database must share the key.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;
use std::path::{Path, PathBuf};

const SEAL_LABEL: &[u8] = b"portico secrets at rest v1";
const CSRF_LABEL: &[u8] = b"portico csrf v1";
const ID_LABEL: &[u8] = b"portico key id v1";
const REPLY_LABEL: &[u8] = b"portico reply address v1";
/// What a sealed value starts with; clear two-factor secrets (base32)
/// never contain a colon.
const SEALED_PREFIX: &str = "enc1:";
/// The file a generated key is kept in, under the data folder.
pub const KEY_FILE: &str = "secret.key";

/// Why a key or a sealed value could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the secret key is not valid: expected 32 random bytes in base64 (e.g. from `openssl rand -base64 32`)"
    )]
    Malformed,
    #[error("a stored secret is sealed under another key (key id {0})")]
    UnknownKey(String),
    #[error("a stored secret could not be opened: it is damaged or belongs elsewhere")]
    Damaged,
    #[error("{0}")]
    Io(String),
}

/// A 256-bit secret key.
pub struct SecretKey(SecretBox<[u8; 32]>);

impl Clone for SecretKey {
    fn clone(&self) -> Self {
        Self(SecretBox::new(Box::new(*self.0.expose_secret())))
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

impl SecretKey {
    /// A new random key.
    pub fn generate() -> Self {
        Self(SecretBox::new(Box::new(rand::random())))
    }

    /// A key as written in the configuration or a key file: base64 of 32
    /// bytes (surrounding white space ignored).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| KeyError::Malformed)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Malformed)?;
        Ok(Self(SecretBox::new(Box::new(bytes))))
    }

    /// The key as written in a key file.
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(STANDARD.encode(self.0.expose_secret()))
    }

    fn derive(&self, label: &[u8]) -> [u8; 32] {
        let hkdf = hkdf::Hkdf::<Sha256>::new(None, self.0.expose_secret());
        let mut out = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit of 8160.
        let _ = hkdf.expand(label, &mut out);
        out
    }

    /// A public name of the key (16 hex digits), safe to print and store.
    pub fn id(&self) -> String {
        hex::encode(&self.derive(ID_LABEL)[..8])
    }

    /// Reads a key file, or `None` when there is none.
    pub fn read_file(path: &Path) -> Result<Option<Self>, KeyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(KeyError::Io(format!(
                "could not read the key file {}: {e}",
                path.display()
            ))),
        }
    }

    /// Writes a new key file readable by its owner only. Never replaces an
    /// existing file: when two instances start at once, the first key
    /// written is the one both use.
    pub fn create_file(&self, path: &Path) -> Result<Self, KeyError> {
        let io = |e: std::io::Error| {
            KeyError::Io(format!(
                "could not write the key file {}: {e}",
                path.display()
            ))
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut temp = tempfile::Builder::new()
            .prefix(".secret-key-")
            .tempfile_in(dir)
            .map_err(io)?;
        restrict_to_owner(temp.path()).map_err(io)?;
        std::io::Write::write_all(
            &mut temp,
            format!("{}\n", self.to_base64().expose_secret()).as_bytes(),
        )
        .map_err(io)?;
        temp.as_file().sync_all().map_err(io)?;
        match std::fs::hard_link(temp.path(), path) {
            Ok(()) => Ok(self.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::read_file(path)?.ok_or(KeyError::Malformed)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Replaces a key file (after a rotation), keeping its owner-only mode.
    pub fn replace_file(&self, path: &Path) -> Result<(), KeyError> {
        let io = |e: std::io::Error| {
            KeyError::Io(format!(
                "could not write the key file {}: {e}",
                path.display()
            ))
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut temp = tempfile::Builder::new()
            .prefix(".secret-key-")
            .tempfile_in(dir)
            .map_err(io)?;
        restrict_to_owner(temp.path()).map_err(io)?;
        std::io::Write::write_all(
            &mut temp,
            format!("{}\n", self.to_base64().expose_secret()).as_bytes(),
        )
        .map_err(io)?;
        temp.as_file().sync_all().map_err(io)?;
        temp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }
}

#[cfg(unix)]
fn restrict_to_owner(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn restrict_to_owner(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Where this server's key comes from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// `secret_key` in the configuration.
    Configured,
    /// A key file in the data folder (generated on first start).
    DataFolder(PathBuf),
}

/// The configured key, or the data folder's, created on first use.
pub fn load_or_create(
    configured: Option<&SecretString>,
    data_dir: &Path,
) -> Result<(SecretKey, KeySource), KeyError> {
    if let Some(text) = configured {
        return Ok((
            SecretKey::parse(text.expose_secret())?,
            KeySource::Configured,
        ));
    }
    let path = data_dir.join(KEY_FILE);
    std::fs::create_dir_all(data_dir).map_err(|e| {
        KeyError::Io(format!(
            "could not create the data folder {}: {e}",
            data_dir.display()
        ))
    })?;
    let key = match SecretKey::read_file(&path)? {
        Some(key) => key,
        None => {
            let key = SecretKey::generate().create_file(&path)?;
            tracing::info!(
                path = %path.display(),
                key_id = key.id(),
                "generated the secret key; every instance on this database needs the same key"
            );
            key
        }
    };
    Ok((key, KeySource::DataFolder(path)))
}

/// The keys a server works with: the current one (which seals), and during
/// a rotation the one being replaced (which still opens).
#[derive(Clone)]
pub struct Keyring {
    current_id: String,
    current: XChaCha20Poly1305,
    previous: Option<(String, XChaCha20Poly1305)>,
    csrf: [u8; 32],
    reply: [u8; 32],
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current_id", &self.current_id)
            .finish_non_exhaustive()
    }
}

fn cipher_of(key: &SecretKey) -> XChaCha20Poly1305 {
    let derived = key.derive(SEAL_LABEL);
    XChaCha20Poly1305::new(&derived.into())
}

impl Keyring {
    pub fn new(key: &SecretKey) -> Self {
        Self {
            current_id: key.id(),
            current: cipher_of(key),
            previous: None,
            csrf: key.derive(CSRF_LABEL),
            reply: key.derive(REPLY_LABEL),
        }
    }

    /// Seals under `new`, still opening what `old` sealed.
    pub fn rotating(old: &SecretKey, new: &SecretKey) -> Self {
        Self {
            previous: Some((old.id(), cipher_of(old))),
            ..Self::new(new)
        }
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.current_id
    }

    /// Whether `stored` is sealed (rather than a value from before
    /// encryption at rest).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(SEALED_PREFIX)
    }

    /// The key id a sealed value names.
    pub fn key_id_of(stored: &str) -> Option<&str> {
        stored
            .strip_prefix(SEALED_PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .map(|(id, _)| id)
    }

    /// Whether `stored` is sealed under the current key.
    pub fn is_current(&self, stored: &str) -> bool {
        Self::key_id_of(stored) == Some(self.current_id.as_str())
    }

    /// `enc1:<key id>:<base64url of nonce and ciphertext>`. `context` names
    /// what the value belongs to (it must be given again to open it), so a
    /// sealed value copied to another row does not open there.
    pub fn seal(&self, plain: &str, context: &str) -> String {
        let nonce_bytes: [u8; 24] = rand::random();
        let nonce = XNonce::from(nonce_bytes);
        // Encryption fails only for messages of gigabytes.
        let sealed = self
            .current
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut bytes = nonce_bytes.to_vec();
        bytes.extend_from_slice(&sealed);
        format!(
            "{SEALED_PREFIX}{}:{}",
            self.current_id,
            URL_SAFE_NO_PAD.encode(bytes)
        )
    }

    /// The clear text of a sealed value.
    pub fn open(&self, stored: &str, context: &str) -> Result<String, KeyError> {
        let rest = stored
            .strip_prefix(SEALED_PREFIX)
            .ok_or(KeyError::Damaged)?;
        let (id, data) = rest.split_once(':').ok_or(KeyError::Damaged)?;
        let cipher = if id == self.current_id {
            &self.current
        } else {
            match &self.previous {
                Some((previous_id, cipher)) if previous_id == id => cipher,
                _ => return Err(KeyError::UnknownKey(id.to_owned())),
            }
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(data)
            .map_err(|_| KeyError::Damaged)?;
        if bytes.len() < 24 {
            return Err(KeyError::Damaged);
        }
        let (nonce, sealed) = bytes.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| KeyError::Damaged)?;
        let plain = cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| KeyError::Damaged)?;
        String::from_utf8(plain).map_err(|_| KeyError::Damaged)
    }

    /// The anti-forgery token of a session: an HMAC of its id (43 URL-safe
    /// characters, the shape of a random token).
    pub fn csrf_token(&self, session_id: &str) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.csrf) else {
            // HMAC takes keys of any length.
            return String::new();
        };
        mac.update(b"session:");
        mac.update(session_id.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

impl Keyring {
    /// X11: the signature of a reply address's id (HMAC-SHA256, cut to
    /// `N` bytes: the address must fit in an e-mail's local part).
    pub fn reply_tag<const N: usize>(&self, id: &[u8]) -> [u8; N] {
        let mut out = [0u8; N];
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.reply) else {
            return out;
        };
        mac.update(b"reply:");
        mac.update(id);
        let full = mac.finalize().into_bytes();
        let n = N.min(full.len());
        out[..n].copy_from_slice(&full[..n]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_their_key_and_context_only() {
        let key = SecretKey::generate();
        let ring = Keyring::new(&key);
        let sealed = ring.seal("JBSWY3DPEHPK3PXP", "totp:1");
        assert!(Keyring::is_sealed(&sealed));
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_ne!(sealed, ring.seal("JBSWY3DPEHPK3PXP", "totp:1"));
        assert_eq!(ring.open(&sealed, "totp:1").unwrap(), "JBSWY3DPEHPK3PXP");
        assert!(matches!(
            ring.open(&sealed, "totp:2"),
            Err(KeyError::Damaged)
        ));
        let other = Keyring::new(&SecretKey::generate());
        assert!(matches!(
            other.open(&sealed, "totp:1"),
            Err(KeyError::UnknownKey(_))
        ));
        let rotating = Keyring::rotating(&key, &SecretKey::generate());
        assert_eq!(
            rotating.open(&sealed, "totp:1").unwrap(),
            "JBSWY3DPEHPK3PXP"
        );
        assert!(!rotating.is_current(&sealed));
        assert!(rotating.is_current(&rotating.seal("x", "totp:1")));
    }

    #[test]
    fn keys_are_read_back_and_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = load_or_create(None, dir.path()).unwrap();
        let (again, _) = load_or_create(None, dir.path()).unwrap();
        assert_eq!(key.id(), again.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let configured = key.to_base64();
        let (from_config, _) = load_or_create(Some(&configured), dir.path()).unwrap();
        assert_eq!(from_config.id(), key.id());
        assert!(SecretKey::parse("short").is_err());
    }

    #[test]
    fn csrf_tokens_depend_on_the_session_and_the_key() {
        let ring = Keyring::new(&SecretKey::generate());
        let token = ring.csrf_token("abc");
        assert_eq!(token.len(), 43);
        assert_eq!(token, ring.csrf_token("abc"));
        assert_ne!(token, ring.csrf_token("abd"));
        assert_ne!(
            token,
            Keyring::new(&SecretKey::generate()).csrf_token("abc")
        );
    }
}
