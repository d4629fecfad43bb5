//! The notification window (N2, #19): `N` contacts, each in a chat of her
//! own with an unread message older than the window, are written straight
//! into the database; the server's own notification job then tells them
//! all in one window. Its time is read from the server's log line
//! (`notification window told=… queued=… ms=…`), and sends keep going
//! meanwhile: their rate and latency while the window ran are set beside
//! those of the same senders with no window running.

use crate::fixture::{Db, Fixture};
use crate::load::{Conn, Level, Outcome, Target};
use crate::stats::{self, Latency};
use anyhow::{Context, bail};
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

/// Senders during the window (and without it).
pub const CONCURRENCY: usize = 16;
/// How long the server's job may take to start the window: it looks every
/// 15 s, and at once after a send once the window has passed.
const WAIT: Duration = Duration::from_secs(90);
/// Sends go on this long after the window, then stop.
const AFTER: Duration = Duration::from_millis(500);
/// How often the server's log is read for the window's line.
const POLL: Duration = Duration::from_millis(20);

/// One window of `contacts` people, and sends during it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NotifyWindow {
    pub contacts: usize,
    /// From the server's log line: people told, outbox rows queued and the
    /// window's time.
    pub told: usize,
    pub queued: usize,
    pub window_ms: f64,
    /// The same senders at [`CONCURRENCY`] with no window running.
    pub without: Level,
    /// Sends that overlapped the window: per second of the window, and
    /// their latency.
    pub during_per_second: f64,
    pub during: Latency,
}

impl NotifyWindow {
    pub fn median(runs: &[NotifyWindow]) -> NotifyWindow {
        let first = runs.first().cloned().unwrap_or_default();
        NotifyWindow {
            contacts: first.contacts,
            told: stats::median(runs.iter().map(|r| r.told as f64)) as usize,
            queued: stats::median(runs.iter().map(|r| r.queued as f64)) as usize,
            window_ms: stats::median(runs.iter().map(|r| r.window_ms)),
            without: Level::median(
                first.without.concurrency,
                &runs.iter().map(|r| r.without.clone()).collect::<Vec<_>>(),
            ),
            during_per_second: stats::median(runs.iter().map(|r| r.during_per_second)),
            during: Latency::median(&runs.iter().map(|r| r.during).collect::<Vec<_>>()),
        }
    }
}

/// One send: when it began and ended.
struct Sent {
    began: Instant,
    done: Instant,
}

/// One run: the crowd written, the window awaited in `log`, sends timed
/// around it. `without` is the senders' level with no window.
pub async fn run(
    db: &Db,
    fixture: &Fixture,
    log: &Path,
    targets: &[Target],
    contacts: usize,
    without: Level,
) -> anyhow::Result<NotifyWindow> {
    let admin = &fixture.people[fixture.admin];
    let offset = std::fs::metadata(log).map(|m| m.len()).unwrap_or(0);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let senders = tokio::spawn(timed_sends(targets.to_vec(), CONCURRENCY, stopped));
    crowd(db, &admin.id, contacts).await?;
    let waited = Instant::now();
    let found = loop {
        if let Some(line) = window_line(log, offset, contacts)? {
            break Some((line, Instant::now()));
        }
        if waited.elapsed() > WAIT {
            break None;
        }
        tokio::time::sleep(POLL).await;
    };
    tokio::time::sleep(AFTER).await;
    stop.send(true).ok();
    let sent = senders.await.context("the senders")??;
    let Some(((told, queued, ms), seen)) = found else {
        bail!(
            "no notification window told {contacts} people within {} s",
            WAIT.as_secs()
        );
    };
    // The line is written as the window ends; it is seen within `POLL`.
    let end = seen;
    let start = end
        .checked_sub(Duration::from_millis(ms) + POLL)
        .unwrap_or(end);
    let mut h = stats::histogram()?;
    for s in sent.iter().filter(|s| s.began < end && s.done > start) {
        stats::record(&mut h, (s.done - s.began).as_micros() as u64);
    }
    let during = Latency::of(&h);
    let seconds = (end - start).as_secs_f64().max(f64::MIN_POSITIVE);
    Ok(NotifyWindow {
        contacts,
        told,
        queued,
        window_ms: ms as f64,
        without,
        during_per_second: during.count as f64 / seconds,
        during,
    })
}

/// `concurrency` senders sending one message after another until told to
/// stop; every acknowledged send with its times.
async fn timed_sends(
    targets: Vec<Target>,
    concurrency: usize,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Vec<Sent>> {
    let mut tasks = Vec::new();
    for i in 0..concurrency {
        let mut conn = Conn::open(targets[i % targets.len()].clone()).await?;
        let stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            let mut n = 0u64;
            while !*stopped.borrow() {
                n += 1;
                let body = format!("Benchmark message {n} from sender {}", conn.target().person);
                let began = Instant::now();
                match conn.send(&body).await {
                    Ok(Outcome::Ack { .. }) => sent.push(Sent {
                        began,
                        done: Instant::now(),
                    }),
                    Ok(Outcome::Refused { .. }) => {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
            sent
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.context("a sender task")?);
    }
    Ok(all)
}

/// The first `notification window` line after `offset` that told at
/// least `contacts` people: told, queued and milliseconds.
fn window_line(
    log: &Path,
    offset: u64,
    contacts: usize,
) -> anyhow::Result<Option<(usize, usize, u64)>> {
    let bytes = std::fs::read(log).with_context(|| format!("reading {}", log.display()))?;
    let from = usize::try_from(offset).unwrap_or(0).min(bytes.len());
    let text = String::from_utf8_lossy(&bytes[from..]);
    for line in text.lines() {
        let line = crate::run::plain(line);
        if !line.contains("notification window") {
            continue;
        }
        let field = |name: &str| -> Option<u64> {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.parse().ok())
        };
        if let (Some(told), Some(queued), Some(ms)) = (field("told"), field("queued"), field("ms"))
            && told as usize >= contacts
        {
            return Ok(Some((told as usize, queued as usize, ms)));
        }
    }
    Ok(None)
}

/// Writes `count` active contacts of one of the practice's clients, each
/// in a direct chat with the admin (`admin`, a staff id) holding one
/// message from the admin she has not read, sent three minutes ago
/// (past the default two-minute window), in one transaction.
async fn crowd(db: &Db, admin: &str, count: usize) -> anyhow::Result<()> {
    use sqlx::Connection;
    let count = i64::try_from(count).context("contacts")?;
    // Ids are UUIDs: a random prefix of each kind and the number.
    let prefix = || -> String { uuid::Uuid::now_v7().to_string().chars().take(23).collect() };
    let (contact_prefix, chat_prefix, message_prefix) = (prefix(), prefix(), prefix());
    let now = jiff::Timestamp::now().as_millisecond();
    let sent = now - 180_000;
    match db {
        Db::Sqlite(path) => {
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .context("connect to SQLite")?;
            sqlx::query("PRAGMA busy_timeout = 30000")
                .execute(&mut conn)
                .await?;
            // The server writes meanwhile: take the write lock first, as
            // its own transactions do.
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
            let (practice, client): (String, String) = sqlx::query_as(
                "SELECT s.practice_id, c.id FROM staff_users s \
                 JOIN clients c ON c.practice_id = s.practice_id WHERE s.id = ?1 ORDER BY c.id LIMIT 1",
            )
            .bind(admin)
            .fetch_one(&mut *tx)
            .await
            .context("the admin's practice and a client")?;
            // Every statement takes the same parameters, as the row `p`.
            let n = "WITH RECURSIVE p(cnt, cp, hp, mp, practice, client, joined, sent, admin) AS \
                     (SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9), \
                     n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n, p WHERE i < p.cnt) ";
            let statements = [
                "INSERT INTO contacts (id, practice_id, email, name, status, created_at, activated_at) \
                 SELECT printf('%s-%012x', cp, i), practice, printf('crowd%d-%s@bench.example', i, cp), \
                 printf('Crowd Contact %d', i), 'active', joined, joined FROM n, p WHERE true",
                "INSERT INTO contact_clients (practice_id, contact_id, client_id, created_at) \
                 SELECT practice, printf('%s-%012x', cp, i), client, joined FROM n, p WHERE true",
                "INSERT INTO chats (id, practice_id, kind, title, client_id, last_seq, created_at, last_message_at) \
                 SELECT printf('%s-%012x', hp, i), practice, 'direct', printf('Crowd %d', i), client, 1, joined, \
                 sent FROM n, p WHERE true",
                "INSERT INTO chat_members (practice_id, chat_id, member_kind, member_id, last_read_seq, joined_at) \
                 SELECT practice, printf('%s-%012x', hp, i), 'staff', admin, 1, joined FROM n, p WHERE true",
                "INSERT INTO chat_members (practice_id, chat_id, member_kind, member_id, last_read_seq, joined_at) \
                 SELECT practice, printf('%s-%012x', hp, i), 'contact', printf('%s-%012x', cp, i), 0, joined \
                 FROM n, p WHERE true",
                "INSERT INTO messages (id, practice_id, chat_id, seq, sender_kind, sender_id, sender_name, body, \
                 idempotency_key, created_at) SELECT printf('%s-%012x', mp, i), practice, printf('%s-%012x', hp, i), \
                 1, 'staff', admin, 'Bench Admin', 'Your documents are ready to sign.', \
                 printf('crowd-%s-%d', mp, i), sent FROM n, p WHERE true",
            ];
            for statement in statements {
                sqlx::query(sqlx::AssertSqlSafe(format!("{n}{statement}")))
                    .bind(count)
                    .bind(&contact_prefix)
                    .bind(&chat_prefix)
                    .bind(&message_prefix)
                    .bind(&practice)
                    .bind(&client)
                    .bind(sent - 1000)
                    .bind(sent)
                    .bind(admin)
                    .execute(&mut *tx)
                    .await
                    .context("writing the crowd (SQLite)")?;
            }
            tx.commit().await?;
        }
        Db::Postgres(url) => {
            let mut conn = sqlx::PgConnection::connect(url)
                .await
                .context("connect to PostgreSQL")?;
            let mut tx = conn.begin().await?;
            let (practice, client): (String, String) = sqlx::query_as(
                "SELECT s.practice_id, c.id FROM staff_users s \
                 JOIN clients c ON c.practice_id = s.practice_id WHERE s.id = $1 ORDER BY c.id LIMIT 1",
            )
            .bind(admin)
            .fetch_one(&mut *tx)
            .await
            .context("the admin's practice and a client")?;
            // Every statement takes the same parameters, as the row `p`.
            let p = "WITH p AS (SELECT $1::bigint AS cnt, $2::text AS cp, $3::text AS hp, $4::text AS mp, \
                     $5::text AS practice, $6::text AS client, $7::bigint AS joined, $8::bigint AS sent, \
                     $9::text AS admin) ";
            let id = |prefix: &str| format!("{prefix} || '-' || lpad(to_hex(i), 12, '0')");
            let (contact, chat, message) = (id("p.cp"), id("p.hp"), id("p.mp"));
            let n = "FROM p, generate_series(1::bigint, p.cnt) AS i";
            let statements = [
                format!(
                    "{p}INSERT INTO contacts (id, practice_id, email, name, status, created_at, activated_at) \
                     SELECT {contact}, practice, 'crowd' || i || '-' || cp || '@bench.example', \
                     'Crowd Contact ' || i, 'active', joined, joined {n}"
                ),
                format!(
                    "{p}INSERT INTO contact_clients (practice_id, contact_id, client_id, created_at) \
                     SELECT practice, {contact}, client, joined {n}"
                ),
                format!(
                    "{p}INSERT INTO chats (id, practice_id, kind, title, client_id, last_seq, created_at, \
                     last_message_at) SELECT {chat}, practice, 'direct', 'Crowd ' || i, client, 1, joined, sent {n}"
                ),
                format!(
                    "{p}INSERT INTO chat_members (practice_id, chat_id, member_kind, member_id, last_read_seq, \
                     joined_at) SELECT practice, {chat}, 'staff', admin, 1, joined {n}"
                ),
                format!(
                    "{p}INSERT INTO chat_members (practice_id, chat_id, member_kind, member_id, last_read_seq, \
                     joined_at) SELECT practice, {chat}, 'contact', {contact}, 0, joined {n}"
                ),
                format!(
                    "{p}INSERT INTO messages (id, practice_id, chat_id, seq, sender_kind, sender_id, sender_name, \
                     body, idempotency_key, created_at) SELECT {message}, practice, {chat}, 1, 'staff', admin, \
                     'Bench Admin', 'Your documents are ready to sign.', 'crowd-' || mp || '-' || i, sent {n}"
                ),
            ];
            for statement in statements {
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .bind(count)
                    .bind(&contact_prefix)
                    .bind(&chat_prefix)
                    .bind(&message_prefix)
                    .bind(&practice)
                    .bind(&client)
                    .bind(sent - 1000)
                    .bind(sent)
                    .bind(admin)
                    .execute(&mut *tx)
                    .await
                    .context("writing the crowd (PostgreSQL)")?;
            }
            tx.commit().await?;
            sqlx::query("ANALYZE").execute(&mut conn).await?;
        }
    }
    Ok(())
}
