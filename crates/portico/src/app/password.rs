//! Password hashing with argon2id, on a small pool of threads of its own.
//!
//! Each argon2 hash fills 19 MiB of memory. Run on tokio's blocking pool,
//! every blocking thread that ever hashed kept its own 19 MiB (the
//! allocator holds freed memory per thread), so resident memory grew with
//! the number of passwords set at once: 15 MiB idle became 93 MiB after four
//! people chose passwords. Here [`HASHERS`] threads do every hash and
//! verification, each reusing one memory block for all of them, so the
//! memory argon2 holds is bounded by `HASHERS × 19 MiB` however many people
//! set passwords; callers queue (asynchronously) when all are busy.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::sync::{Arc, Mutex, OnceLock};
use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, oneshot};

/// The shortest password Portico accepts.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Threads that hash passwords (two: sign-ins on a two-core machine go on
/// side by side, and the memory stays at 38 MiB at most).
pub const HASHERS: usize = 2;
/// Requests waiting for a hashing thread before callers wait for room.
const QUEUE: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("A password needs at least {MIN_PASSWORD_CHARS} characters.")]
    TooShort,
    #[error("A password can be at most 1024 characters.")]
    TooLong,
    /// Too easy to guess (zxcvbn's score below [`MIN_STRENGTH`]), with
    /// what would make it stronger.
    #[error("{0}")]
    Weak(String),
    #[error("could not hash the password: {0}")]
    Hash(String),
}

/// The least zxcvbn score (0 to 4) a new password needs: 3, "safely
/// unguessable" (about 10^10 guesses), what offline attacks on a stolen
/// hash take too long for.
pub const MIN_STRENGTH: u8 = 3;

/// Checks that a new password is hard to guess, given what a guesser knows
/// of its owner (`about`: their name, address, practice). The refusal says
/// why and what would help, in zxcvbn's words.
pub fn check_strength(password: &SecretString, about: &[&str]) -> Result<(), PasswordError> {
    let password = password.expose_secret();
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if chars > 1024 {
        return Err(PasswordError::TooLong);
    }
    // Names and addresses split in words, as a guesser would try them.
    let lower: Vec<String> = about.iter().map(|text| text.to_lowercase()).collect();
    let words: Vec<&str> = lower
        .iter()
        .flat_map(|text| text.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| w.chars().count() >= 3)
        .chain(lower.iter().map(String::as_str))
        .collect();
    let estimate = zxcvbn::zxcvbn(password, &words);
    if u8::from(estimate.score()) >= MIN_STRENGTH {
        return Ok(());
    }
    let mut sentence = String::from("This password is too easy to guess.");
    if let Some(feedback) = estimate.feedback() {
        if let Some(warning) = feedback.warning() {
            sentence.push(' ');
            sentence.push_str(&warning.to_string());
        }
        for suggestion in feedback.suggestions() {
            sentence.push(' ');
            sentence.push_str(&suggestion.to_string());
        }
    }
    if !sentence.contains("Add") {
        sentence.push_str(" Add another word or two that are not about you.");
    }
    Err(PasswordError::Weak(sentence))
}

/// A password a person chose: checked for strength against what is known
/// about them ([`check_strength`]), then hashed.
pub async fn hash_new_password(
    password: SecretString,
    about: &[&str],
) -> Result<String, PasswordError> {
    check_strength(&password, about)?;
    hash_password(password).await
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
    match pool().run(Work::Hash { password }).await {
        Some(Done::Hashed(result)) => result,
        _ => Err(PasswordError::Hash(
            "the password hashing threads stopped".into(),
        )),
    }
}

/// True when `password` matches the stored hash. A malformed hash is a
/// mismatch, never an error the caller could tell apart.
pub async fn verify_password(password: SecretString, stored_hash: String) -> bool {
    matches!(
        pool()
            .run(Work::Verify {
                password,
                stored_hash
            })
            .await,
        Some(Done::Verified(true))
    )
}

/// How many hashing threads have started (at most [`HASHERS`]).
pub fn hashing_threads() -> usize {
    POOL.get().map_or(0, |pool| {
        pool.started
            .lock()
            .map_or_else(|poisoned| *poisoned.into_inner(), |n| *n)
    })
}

enum Work {
    Hash {
        password: SecretString,
    },
    Verify {
        password: SecretString,
        stored_hash: String,
    },
}

enum Done {
    Hashed(Result<String, PasswordError>),
    Verified(bool),
}

struct Job {
    work: Work,
    reply: oneshot::Sender<Done>,
}

/// The hashing threads and the queue in front of them. One per process:
/// the bound it keeps is on the process's memory.
struct Pool {
    queue: mpsc::Sender<Job>,
    receiver: Arc<Mutex<mpsc::Receiver<Job>>>,
    started: Mutex<usize>,
}

static POOL: OnceLock<Pool> = OnceLock::new();

fn pool() -> &'static Pool {
    POOL.get_or_init(|| {
        let (queue, receiver) = mpsc::channel(QUEUE);
        Pool {
            queue,
            receiver: Arc::new(Mutex::new(receiver)),
            started: Mutex::new(0),
        }
    })
}

impl Pool {
    /// Queues the work and waits for its result; `None` if no thread could
    /// take it.
    async fn run(&self, work: Work) -> Option<Done> {
        self.start_threads();
        let (reply, answer) = oneshot::channel();
        self.queue.send(Job { work, reply }).await.ok()?;
        answer.await.ok()
    }

    /// Starts the threads on first use (a thread that could not be started
    /// is tried again on the next call).
    fn start_threads(&self) {
        let mut started = self
            .started
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *started < HASHERS {
            let receiver = self.receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("portico-argon2-{}", *started + 1))
                .spawn(move || hash_jobs(&receiver));
            match spawned {
                Ok(_) => *started += 1,
                Err(error) => {
                    tracing::error!(%error, "could not start a password hashing thread");
                    break;
                }
            }
        }
    }
}

/// One hashing thread: takes jobs until the queue closes, with one memory
/// block reused for every hash (allocated on the first).
fn hash_jobs(receiver: &Mutex<mpsc::Receiver<Job>>) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = {
            let mut receiver = receiver
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            receiver.blocking_recv()
        };
        let Some(job) = job else { return };
        let done = match job.work {
            Work::Hash { password } => Done::Hashed(hash(&password, &mut memory)),
            Work::Verify {
                password,
                stored_hash,
            } => Done::Verified(verify(&password, &stored_hash, &mut memory)),
        };
        // A caller that gave up waiting is no one's concern.
        let _ = job.reply.send(done);
    }
}

/// The first `blocks` blocks of the thread's memory, grown if need be.
fn blocks(memory: &mut Vec<Block>, blocks: usize) -> &mut [Block] {
    if memory.len() < blocks {
        memory.resize(blocks, Block::new());
    }
    &mut memory[..blocks]
}

fn hash(password: &SecretString, memory: &mut Vec<Block>) -> Result<String, PasswordError> {
    let failed = |e: &dyn std::fmt::Display| PasswordError::Hash(e.to_string());
    let params = Params::DEFAULT;
    let salt: [u8; 16] = rand::random();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password.expose_secret().as_bytes(),
            &salt,
            &mut out,
            blocks(memory, params.block_count()),
        )
        .map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| failed(&e))?),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

fn verify(password: &SecretString, stored_hash: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(stored_hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let computed = Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
        password.expose_secret().as_bytes(),
        salt.as_ref(),
        &mut out,
        blocks(memory, params.block_count()),
    );
    computed.is_ok() && bool::from(out.ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordHasher;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash_password(SecretString::from("correct horse battery"))
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password(SecretString::from("correct horse battery"), hash.clone()).await);
        assert!(!verify_password(SecretString::from("wrong horse battery"), hash).await);
        assert!(!verify_password(SecretString::from("x"), "not a hash".into()).await);
    }

    /// Hashes made by the argon2 crate's own hasher (every stored hash so
    /// far) verify, and the pool's hashes verify with the crate's verifier.
    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crate() {
        let theirs = Argon2::default()
            .hash_password(b"an older password")
            .unwrap()
            .to_string();
        assert!(verify_password(SecretString::from("an older password"), theirs.clone()).await);
        assert!(!verify_password(SecretString::from("an older passwore"), theirs).await);
        let ours = hash_password(SecretString::from("a newer password"))
            .await
            .unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            argon2::PasswordVerifier::verify_password(
                &Argon2::default(),
                b"a newer password",
                &parsed
            )
            .is_ok()
        );
    }

    #[test]
    fn weak_passwords_are_refused_with_what_would_help() {
        let weak = |p: &str, about: &[&str]| check_strength(&SecretString::from(p), about);
        for p in ["password123", "qwertyuiop", "1234567890", "aaaaaaaaaaaa"] {
            match weak(p, &[]) {
                Err(PasswordError::Weak(sentence)) => {
                    assert!(
                        sentence.starts_with("This password is too easy to guess."),
                        "{p}: {sentence}"
                    );
                    assert!(sentence.len() > 40, "{p}: says what would help: {sentence}");
                }
                other => panic!("{p}: {other:?}"),
            }
        }
        // What is known of the person counts against them.
        assert!(matches!(
            weak(
                "Hannah Brooks1",
                &["Hannah Brooks", "hannah@northwind.example"]
            ),
            Err(PasswordError::Weak(_))
        ));
        assert!(matches!(weak("short", &[]), Err(PasswordError::TooShort)));
        // Passphrases of unrelated words pass.
        for p in [
            "a long test password",
            "a good long passphrase",
            "my new passphrase",
            "a brand new password",
            "priya's long password",
            "correct horse battery staple",
        ] {
            assert!(
                weak(p, &["Hannah Brooks", "hannah@northwind.example"]).is_ok(),
                "{p}"
            );
        }
    }

    #[tokio::test]
    async fn short_passwords_are_refused() {
        assert!(matches!(
            hash_password(SecretString::from("short")).await,
            Err(PasswordError::TooShort)
        ));
    }
}
