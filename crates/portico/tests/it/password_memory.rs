//! Issue 19: every argon2 hash fills 19 MiB. Run on tokio's blocking pool,
//! each thread that hashed kept its 19 MiB, so memory grew with the number
//! of people setting passwords at once. Now a small pool of hashing threads
//! reuses its memory: however many passwords are set, the resident memory
//! they leave stays within the pool's bound.
//!
//! (Each test runs in a process of its own under `cargo nextest`, which
//! `scripts/test` uses; the figures of a release server are in
//! `docs/BENCHMARKS.md`.)

use portico::app::password::{HASHERS, hash_password, hashing_threads, verify_password};
use secrecy::SecretString;

/// Resident memory of this process, in KiB.
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_set_at_once_leave_bounded_memory() {
    // One first hash: the memory of one hashing thread.
    let first = hash_password(SecretString::from("the very first password"))
        .await
        .unwrap();
    let before = resident_kib();
    // Sixteen people choose passwords at once, twice over, and sign in.
    for round in 0..2 {
        let hashes =
            futures_util::future::join_all((0..16).map(|i| {
                hash_password(SecretString::from(format!("password number {round}-{i}")))
            }))
            .await;
        let checks =
            futures_util::future::join_all(hashes.into_iter().enumerate().map(|(i, h)| {
                verify_password(
                    SecretString::from(format!("password number {round}-{i}")),
                    h.unwrap(),
                )
            }))
            .await;
        assert!(checks.into_iter().all(|ok| ok));
    }
    assert!(verify_password(SecretString::from("the very first password"), first).await);
    let after = resident_kib();
    let grown_mib = after.saturating_sub(before) / 1024;
    eprintln!("resident: {before} KiB before, {after} KiB after 64 hashes and checks");
    assert!(hashing_threads() <= HASHERS);
    // Each hashing thread holds 19 MiB; the one that hashed first already
    // did before. Unbounded, sixteen at once left well over 100 MiB.
    let bound = 19 * HASHERS as u64 + 16;
    assert!(
        grown_mib <= bound,
        "resident memory grew by {grown_mib} MiB (bound {bound} MiB)"
    );
}

/// Resident memory after a first hash, then after `people` hashes at once,
/// twice over, with `hash`.
async fn measure<F, Fut>(people: usize, hash: F) -> [u64; 3]
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    hash("the very first password".into()).await;
    let first = resident_kib();
    futures_util::future::join_all((0..people).map(|i| hash(format!("password number a-{i}"))))
        .await;
    let once = resident_kib();
    futures_util::future::join_all((0..people).map(|i| hash(format!("password number b-{i}"))))
        .await;
    [first, once, resident_kib()]
}

/// For docs/BENCHMARKS.md: the way passwords were hashed before (argon2's
/// own hasher, which allocates its block per hash, on tokio's blocking
/// pool) and the way they are now, measured alike; each prints its figures.
/// `cargo nextest run -p portico --run-ignored only --no-capture -E 'test(/hashing_memory_/)'`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for docs/BENCHMARKS.md, not a check"]
async fn hashing_memory_the_old_way() {
    use argon2::password_hash::PasswordHasher;
    let kib = measure(8, |password| async move {
        tokio::task::spawn_blocking(move || {
            argon2::Argon2::default()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
        })
        .await
        .unwrap()
        .unwrap();
    })
    .await;
    eprintln!("old way, resident KiB after 1 hash, 8 at once, 8 more at once: {kib:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for docs/BENCHMARKS.md, not a check"]
async fn hashing_memory_the_pool() {
    let kib = measure(8, |password| async move {
        hash_password(SecretString::from(password)).await.unwrap();
    })
    .await;
    eprintln!("pool, resident KiB after 1 hash, 8 at once, 8 more at once: {kib:?}");
}
