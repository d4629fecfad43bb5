//! Everything that differs between SQLite and PostgreSQL, in one place:
//! URL schemes, connection set-up and the migrations folder.

use super::{StoreError, StoreOptions};
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Connection, Executor};

/// A pooled connection idle this long is tested before it is used again.
const TEST_IDLE_CONNECTION_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// On SQLite, a group-commit statement's JSON array `$1` as the table
/// `batch`, each element's object converted to SQLite's binary JSON once and
/// kept (`MATERIALIZED`). Read straight from `json_each`, every
/// `value ->> 'field'` made SQLite render the element as text and parse it
/// again: a 13-column insert did so 13 times a message.
macro_rules! sqlite_batch {
    () => {
        "WITH batch AS MATERIALIZED (SELECT jsonb(value) AS value FROM json_each($1)) "
    };
}

macro_rules! alive_session_joins {
    () => {
        "LEFT JOIN staff_users u ON s.subject_kind = 'staff' AND u.practice_id = s.practice_id AND u.id = s.subject_id \
         LEFT JOIN contacts k ON s.subject_kind = 'contact' AND k.practice_id = s.practice_id AND k.id = s.subject_id"
    };
}

macro_rules! alive_session_filter {
    () => {
        "s.stage = 'active' AND s.expires_at > $2 AND s.last_seen_at > $3 AND (u.active = 1 OR k.id IS NOT NULL)"
    };
}

// X1: the parts of a search that are the same on both engines (see
// `Backend::search_sql`); who may see what is in `store/search.rs`.
macro_rules! search_message_columns {
    () => {
        "SELECT msg.chat_id, ch.title, msg.seq, msg.sender_name, msg.body, msg.created_at, ch.last_seq"
    };
}

macro_rules! search_message_joins {
    () => {
        "JOIN chats ch ON ch.practice_id = msg.practice_id AND ch.id = msg.chat_id"
    };
}

macro_rules! search_message_filter {
    () => {
        concat!(
            "msg.practice_id = $4 AND msg.deleted_at IS NULL AND ",
            super::search::chat_visible!()
        )
    };
}

macro_rules! search_question_columns {
    () => {
        "SELECT q.id, q.title, q.details, q.status, q.updated_at, cl.name"
    };
}

macro_rules! search_question_joins {
    () => {
        "JOIN clients cl ON cl.practice_id = q.practice_id AND cl.id = q.client_id"
    };
}

macro_rules! search_question_filter {
    () => {
        concat!(
            "q.practice_id = $4 AND ",
            super::search::question_visible!()
        )
    };
}

macro_rules! search_answer_columns {
    () => {
        "SELECT q.id, q.title, e.author_name, e.body, e.created_at"
    };
}

macro_rules! search_answer_joins {
    () => {
        "JOIN questions q ON q.practice_id = e.practice_id AND q.id = e.question_id"
    };
}

macro_rules! search_file_columns {
    () => {
        "SELECT fi.id, fi.name, fi.created_at, q.id, q.title, ch.id, ch.title, fi.message_seq, ch.last_seq"
    };
}

macro_rules! search_file_joins {
    () => {
        "LEFT JOIN questions q ON q.practice_id = fi.practice_id AND q.id = fi.question_id \
         LEFT JOIN chats ch ON ch.practice_id = fi.practice_id AND ch.id = fi.chat_id"
    };
}

macro_rules! search_file_filter {
    () => {
        concat!(
            "fi.practice_id = $4 AND ((q.id IS NOT NULL AND ",
            super::search::question_visible!(),
            ") OR (ch.id IS NOT NULL AND ",
            super::search::file_message_standing!(),
            " AND ",
            super::search::chat_visible!(),
            "))"
        )
    };
}

/// The database engine behind a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded, the default: one file under the data folder.
    Sqlite,
    /// For scale-out: several Portico instances on one database.
    Postgres,
}

impl Backend {
    /// Chooses the engine from a URL's scheme; an unknown scheme is refused.
    pub fn from_url(url: &str) -> Result<Self, String> {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(format!(
                "the database URL must start with sqlite:// or postgres://, not {:?}",
                if scheme.is_empty() { url } else { scheme }
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }

    /// Claims due outbox rows (`$1` now, `$2` lease end, `$3` limit). On
    /// PostgreSQL, `SKIP LOCKED` lets instances claim side by side; SQLite
    /// has one writer at a time, so the plain sub-select is already exclusive.
    pub(super) fn claim_outbox_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => concat!(
                "UPDATE outbox SET claimed_until = $2 WHERE id IN (SELECT id FROM outbox \
                 WHERE status = 'pending' AND next_attempt_at <= $1 AND claimed_until <= $1 \
                 ORDER BY next_attempt_at, id LIMIT $3) RETURNING ",
                super::outbox::outbox_columns!()
            ),
            Backend::Postgres => concat!(
                "UPDATE outbox SET claimed_until = $2 WHERE id IN (SELECT id FROM outbox \
                 WHERE status = 'pending' AND next_attempt_at <= $1 AND claimed_until <= $1 \
                 ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING ",
                super::outbox::outbox_columns!()
            ),
        }
    }

    /// Claims due scheduled messages (X10; `$1` now, `$2` lease end, `$3`
    /// limit), as the outbox is claimed: `SKIP LOCKED` on PostgreSQL, the
    /// one writer on SQLite. A claim whose lease ran out (an instance that
    /// stopped mid-send) is taken again; the send's key keeps it one message.
    pub(super) fn claim_scheduled_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => concat!(
                "UPDATE scheduled_messages SET state = 'sending', claimed_until = $2 WHERE id IN \
                 (SELECT id FROM scheduled_messages WHERE state IN ('scheduled', 'sending') \
                 AND send_at <= $1 AND claimed_until <= $1 ORDER BY send_at, id LIMIT $3) RETURNING ",
                super::chat_prefs::scheduled_columns!()
            ),
            Backend::Postgres => concat!(
                "UPDATE scheduled_messages SET state = 'sending', claimed_until = $2 WHERE id IN \
                 (SELECT id FROM scheduled_messages WHERE state IN ('scheduled', 'sending') \
                 AND send_at <= $1 AND claimed_until <= $1 ORDER BY send_at, id LIMIT $3 \
                 FOR UPDATE SKIP LOCKED) RETURNING ",
                super::chat_prefs::scheduled_columns!()
            ),
        }
    }

    /// Claims due scheduled questions (`$1` now, `$2` lease end, `$3`
    /// limit), as [`Backend::claim_scheduled_sql`] claims messages.
    pub(super) fn claim_scheduled_questions_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => concat!(
                "UPDATE scheduled_questions SET state = 'sending', claimed_until = $2 WHERE id IN \
                 (SELECT id FROM scheduled_questions WHERE state IN ('scheduled', 'sending') \
                 AND send_at <= $1 AND claimed_until <= $1 ORDER BY send_at, id LIMIT $3) RETURNING ",
                super::scheduled_questions::scheduled_question_columns!()
            ),
            Backend::Postgres => concat!(
                "UPDATE scheduled_questions SET state = 'sending', claimed_until = $2 WHERE id IN \
                 (SELECT id FROM scheduled_questions WHERE state IN ('scheduled', 'sending') \
                 AND send_at <= $1 AND claimed_until <= $1 ORDER BY send_at, id LIMIT $3 \
                 FOR UPDATE SKIP LOCKED) RETURNING ",
                super::scheduled_questions::scheduled_question_columns!()
            ),
        }
    }

    /// Claims due webhook deliveries (X3; `$1` now, `$2` lease end, `$3`
    /// limit): only the oldest delivery waiting for each enabled endpoint,
    /// so each endpoint hears of its events in order. On PostgreSQL a
    /// delivery another instance is claiming is skipped, and the one after
    /// it still waits behind it.
    pub(super) fn claim_webhooks_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => concat!(
                "UPDATE webhook_deliveries SET claimed_until = $2 WHERE id IN (SELECT d.id FROM webhook_deliveries d \
                 JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                 WHERE d.status = 'pending' AND e.enabled = 1 AND d.next_attempt_at <= $1 AND d.claimed_until <= $1 \
                 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries o WHERE o.endpoint_id = d.endpoint_id \
                 AND o.status = 'pending' AND (o.created_at < d.created_at OR (o.created_at = d.created_at AND o.id < d.id))) \
                 ORDER BY d.next_attempt_at, d.id LIMIT $3) RETURNING ",
                super::webhooks::delivery_columns!()
            ),
            Backend::Postgres => concat!(
                "UPDATE webhook_deliveries SET claimed_until = $2 WHERE id IN (SELECT d.id FROM webhook_deliveries d \
                 JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                 WHERE d.status = 'pending' AND e.enabled = 1 AND d.next_attempt_at <= $1 AND d.claimed_until <= $1 \
                 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries o WHERE o.endpoint_id = d.endpoint_id \
                 AND o.status = 'pending' AND (o.created_at < d.created_at OR (o.created_at = d.created_at AND o.id < d.id))) \
                 ORDER BY d.next_attempt_at, d.id LIMIT $3 FOR UPDATE OF d SKIP LOCKED) RETURNING ",
                super::webhooks::delivery_columns!()
            ),
        }
    }

    /// Claims due file removals (`$1` now, `$2` lease end, `$3` limit),
    /// as [`Backend::claim_outbox_sql`] claims messages.
    pub(super) fn claim_file_deletions_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => concat!(
                "UPDATE file_deletions SET claimed_until = $2 WHERE id IN (SELECT id FROM file_deletions \
                 WHERE next_attempt_at <= $1 AND claimed_until <= $1 \
                 ORDER BY next_attempt_at, id LIMIT $3) RETURNING ",
                super::file_deletions::file_deletion_columns!()
            ),
            Backend::Postgres => concat!(
                "UPDATE file_deletions SET claimed_until = $2 WHERE id IN (SELECT id FROM file_deletions \
                 WHERE next_attempt_at <= $1 AND claimed_until <= $1 \
                 ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING ",
                super::file_deletions::file_deletion_columns!()
            ),
        }
    }

    /// The messages already stored under the senders' idempotency keys;
    /// `$1` a JSON array of [`SenderKey`](super::group_commit::SenderKey).
    pub(super) fn existing_messages_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => concat!(
                sqlite_batch!(),
                "SELECT ",
                super::chats::message_columns!(),
                ", idempotency_key FROM messages WHERE (practice_id, sender_kind, sender_id, idempotency_key) IN \
                 (SELECT value ->> 'practice_id', value ->> 'sender_kind', value ->> 'sender_id', \
                  value ->> 'idempotency_key' FROM batch)"
            ),
            Backend::Postgres => concat!(
                "SELECT ",
                super::chats::message_columns!(),
                ", idempotency_key FROM messages WHERE (practice_id, sender_kind, sender_id, idempotency_key) IN \
                 (SELECT j.practice_id, j.sender_kind, j.sender_id, j.idempotency_key FROM json_to_recordset($1::json) \
                  AS j(practice_id text, sender_kind text, sender_id text, idempotency_key text))"
            ),
        }
    }

    /// Locks a batch's chats (`$1` as for [`Backend::take_seqs_sql`]) one
    /// after another in a fixed order, before their numbers are taken: two
    /// instances' batches that share chats then wait for each other instead
    /// of each locking a chat the other needs next (a deadlock, which fails
    /// one of the batches). SQLite has one writer at a time.
    pub(super) fn lock_chats_sql(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some(
                "SELECT chats.id FROM chats \
                 JOIN json_to_recordset($1::json) AS j(practice_id text, chat_id text) \
                 ON chats.practice_id = j.practice_id AND chats.id = j.chat_id \
                 ORDER BY chats.practice_id, chats.id FOR UPDATE OF chats",
            ),
        }
    }

    /// Takes `taken` sequence numbers in each chat; `$1` a JSON array of
    /// [`SeqsToTake`](super::group_commit::SeqsToTake). Returns each chat's
    /// id and its new last number.
    pub(super) fn take_seqs_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => concat!(
                sqlite_batch!(),
                "UPDATE chats SET last_seq = chats.last_seq + j.taken, last_message_at = j.last_message_at \
                 FROM (SELECT value ->> 'practice_id' AS practice_id, value ->> 'chat_id' AS chat_id, \
                       value ->> 'taken' AS taken, value ->> 'last_message_at' AS last_message_at \
                       FROM batch) AS j \
                 WHERE chats.practice_id = j.practice_id AND chats.id = j.chat_id RETURNING chats.id, chats.last_seq"
            ),
            Backend::Postgres => {
                "UPDATE chats SET last_seq = chats.last_seq + j.taken, last_message_at = j.last_message_at \
                 FROM json_to_recordset($1::json) AS j(practice_id text, chat_id text, taken bigint, last_message_at bigint) \
                 WHERE chats.practice_id = j.practice_id AND chats.id = j.chat_id RETURNING chats.id, chats.last_seq"
            }
        }
    }

    /// Inserts messages; `$1` a JSON array of
    /// [`MessageInsert`](super::group_commit::MessageInsert), keyed by the
    /// columns they fill. A message whose sender's idempotency key is
    /// already taken (by another instance's batch that committed first) is
    /// skipped; the ids returned are those inserted.
    pub(super) fn insert_messages_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => concat!(
                sqlite_batch!(),
                "INSERT INTO messages (id, practice_id, chat_id, seq, sender_kind, sender_id, sender_name, body, \
                 idempotency_key, reply_to_seq, created_at, automatic, urgent) \
                 SELECT value ->> 'id', value ->> 'practice_id', value ->> 'chat_id', value ->> 'seq', \
                 value ->> 'sender_kind', value ->> 'sender_id', value ->> 'sender_name', value ->> 'body', \
                 value ->> 'idempotency_key', value ->> 'reply_to_seq', value ->> 'created_at', \
                 value ->> 'automatic', value ->> 'urgent' \
                 FROM batch \
                 WHERE true ON CONFLICT (practice_id, sender_kind, sender_id, idempotency_key) DO NOTHING RETURNING id"
            ),
            Backend::Postgres => {
                "INSERT INTO messages (id, practice_id, chat_id, seq, sender_kind, sender_id, sender_name, body, \
                 idempotency_key, reply_to_seq, created_at, automatic, urgent) \
                 SELECT j.id, j.practice_id, j.chat_id, j.seq, j.sender_kind, j.sender_id, j.sender_name, j.body, \
                 j.idempotency_key, j.reply_to_seq, j.created_at, j.automatic, j.urgent FROM json_to_recordset($1::json) \
                 AS j(id text, practice_id text, chat_id text, seq bigint, sender_kind text, sender_id text, \
                      sender_name text, body text, idempotency_key text, reply_to_seq bigint, created_at bigint, \
                      automatic bigint, urgent bigint) \
                 ON CONFLICT (practice_id, sender_kind, sender_id, idempotency_key) DO NOTHING RETURNING id"
            }
        }
    }

    /// After sends: hidden chats come back (M6; `$1` a JSON array of
    /// [`ChatRef`](super::group_commit::ChatRef)) and each sender has read
    /// up to her last message (`$1` a JSON array of
    /// [`ReadUpTo`](super::group_commit::ReadUpTo)).
    pub(super) fn members_after_send_sql(self) -> [&'static str; 2] {
        match self {
            Backend::Sqlite => [
                concat!(
                    sqlite_batch!(),
                    "UPDATE chat_members SET hidden = 0 WHERE hidden = 1 AND (practice_id, chat_id) IN \
                     (SELECT value ->> 'practice_id', value ->> 'chat_id' FROM batch)"
                ),
                concat!(
                    sqlite_batch!(),
                    "UPDATE chat_members SET last_read_seq = j.last_read_seq \
                 FROM (SELECT value ->> 'practice_id' AS practice_id, value ->> 'chat_id' AS chat_id, \
                       value ->> 'member_kind' AS member_kind, value ->> 'member_id' AS member_id, \
                       value ->> 'last_read_seq' AS last_read_seq FROM batch) AS j \
                 WHERE chat_members.practice_id = j.practice_id AND chat_members.chat_id = j.chat_id \
                 AND chat_members.member_kind = j.member_kind AND chat_members.member_id = j.member_id"
                ),
            ],
            Backend::Postgres => [
                "UPDATE chat_members SET hidden = 0 WHERE hidden = 1 AND (practice_id, chat_id) IN \
                 (SELECT j.practice_id, j.chat_id FROM json_to_recordset($1::json) AS j(practice_id text, chat_id text))",
                "UPDATE chat_members SET last_read_seq = j.last_read_seq \
                 FROM json_to_recordset($1::json) \
                 AS j(practice_id text, chat_id text, member_kind text, member_id text, last_read_seq bigint) \
                 WHERE chat_members.practice_id = j.practice_id AND chat_members.chat_id = j.chat_id \
                 AND chat_members.member_kind = j.member_kind AND chat_members.member_id = j.member_id",
            ],
        }
    }

    /// On PostgreSQL, takes a share lock on the contacts who are members
    /// of a batch's chats (`$1` a JSON array of
    /// [`ChatRef`](super::group_commit::ChatRef)), so that taking a
    /// client away from one of them (which writes her row) waits for the
    /// batch, or the batch for it. SQLite's write transactions are
    /// exclusive already.
    pub(super) fn lock_chat_contacts_sql(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some(
                "SELECT k.id FROM contacts k WHERE (k.practice_id, k.id) IN \
                 (SELECT m.practice_id, m.member_id FROM chat_members m \
                  JOIN json_to_recordset($1::json) AS j(practice_id text, chat_id text) \
                  ON m.practice_id = j.practice_id AND m.chat_id = j.chat_id \
                  WHERE m.member_kind = 'contact') \
                 ORDER BY k.practice_id, k.id FOR SHARE OF k",
            ),
        }
    }

    /// The senders of a batch who may still send to their chats: members
    /// who reach them (`$1` a JSON array of
    /// [`ChatMember`](super::group_commit::ChatMember)). Returns chat id,
    /// member kind and member id.
    pub(super) fn senders_allowed_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => concat!(
                sqlite_batch!(),
                "SELECT m.chat_id, m.member_kind, m.member_id FROM \
                 (SELECT value ->> 'practice_id' AS practice_id, value ->> 'chat_id' AS chat_id, \
                  value ->> 'member_kind' AS member_kind, value ->> 'member_id' AS member_id \
                  FROM batch) AS j \
                 JOIN chat_members m ON m.practice_id = j.practice_id AND m.chat_id = j.chat_id \
                 AND m.member_kind = j.member_kind AND m.member_id = j.member_id \
                 JOIN chats ch ON ch.practice_id = m.practice_id AND ch.id = m.chat_id WHERE ",
                super::chats::member_reaches_chat!()
            ),
            Backend::Postgres => concat!(
                "SELECT m.chat_id, m.member_kind, m.member_id FROM \
                 json_to_recordset($1::json) AS j(practice_id text, chat_id text, member_kind text, member_id text) \
                 JOIN chat_members m ON m.practice_id = j.practice_id AND m.chat_id = j.chat_id \
                 AND m.member_kind = j.member_kind AND m.member_id = j.member_id \
                 JOIN chats ch ON ch.practice_id = m.practice_id AND ch.id = m.chat_id WHERE ",
                super::chats::member_reaches_chat!()
            ),
        }
    }

    /// Who hears a batch's messages: the members of its chats who reach
    /// them (`$1` a JSON array of [`ChatRef`](super::group_commit::ChatRef)).
    /// Returns chat id, member kind and member id.
    pub(super) fn chat_recipients_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => concat!(
                sqlite_batch!(),
                "SELECT m.chat_id, m.member_kind, m.member_id FROM chat_members m \
                 JOIN chats ch ON ch.practice_id = m.practice_id AND ch.id = m.chat_id \
                 WHERE (m.practice_id, m.chat_id) IN \
                 (SELECT value ->> 'practice_id', value ->> 'chat_id' FROM batch) AND ",
                super::chats::member_reaches_chat!()
            ),
            Backend::Postgres => concat!(
                "SELECT m.chat_id, m.member_kind, m.member_id FROM chat_members m \
                 JOIN chats ch ON ch.practice_id = m.practice_id AND ch.id = m.chat_id \
                 WHERE (m.practice_id, m.chat_id) IN \
                 (SELECT j.practice_id, j.chat_id FROM json_to_recordset($1::json) AS j(practice_id text, chat_id text)) AND ",
                super::chats::member_reaches_chat!()
            ),
        }
    }

    /// The live sessions among `$1` (a JSON array of hashes) at `$2`, used
    /// since `$3`, whose person is still there.
    pub(super) fn alive_sessions_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => concat!(
                "SELECT s.id_hash FROM sessions s ",
                alive_session_joins!(),
                " WHERE s.id_hash IN (SELECT value FROM json_each($1)) AND ",
                alive_session_filter!()
            ),
            Backend::Postgres => concat!(
                "SELECT s.id_hash FROM sessions s ",
                alive_session_joins!(),
                " WHERE s.id_hash IN (SELECT json_array_elements_text($1::json)) AND ",
                alive_session_filter!()
            ),
        }
    }

    /// X1: the search of one kind. Parameters: `$1` every word, the last as a prefix
    /// and `$2` the exact phrase (in the engine's query syntax, see
    /// [`crate::domain::SearchQuery`]), `$3` the limit, `$4` the practice,
    /// `$5`/`$6` the searcher's kind and id. The exact phrase ranks first,
    /// then FTS5's bm25 or PostgreSQL's `ts_rank`, then the newest.
    pub(super) fn search_sql(self, kind: super::search::SearchKind) -> &'static str {
        use super::search::SearchKind as K;
        match (self, kind) {
            // Messages, the newest first, in three tiers the caller reads
            // in turn until it has enough: the exact phrase
            // ([`K::MessagePhrases`]), every word exactly
            // ([`K::MessageWords`]), every word with the last as a prefix ([`K::Messages`]).
            // Each read follows the index in its own order and stops at the
            // limit, so a word in every message of a large chat costs no
            // more than a rare one; only the prefix tier makes the index
            // gather every word a prefix covers, and it is read only when
            // the exact tiers found too little. On SQLite the full-text
            // index drives the join (`CROSS JOIN` fixes the order) and gives
            // its rowids newest first. On PostgreSQL the GIN index finds the
            // matches and the newest are kept (`created_at + 0`: its
            // estimates for words it has no statistics of would otherwise
            // walk the messages in time order and test each, seconds for a
            // rare word in a large chat); a word in most of a large chat's
            // messages then costs a scan of them (docs/BENCHMARKS.md).
            (Backend::Sqlite, K::MessagePhrases) => concat!(
                search_message_columns!(),
                " FROM messages_fts f CROSS JOIN messages msg ON msg.rowid = f.rowid CROSS ",
                search_message_joins!(),
                " WHERE messages_fts MATCH $2 AND $1 <> '' AND ",
                search_message_filter!(),
                " ORDER BY f.rowid DESC LIMIT $3"
            ),
            (Backend::Sqlite, K::MessageWords) => concat!(
                search_message_columns!(),
                " FROM messages_fts f CROSS JOIN messages msg ON msg.rowid = f.rowid CROSS ",
                search_message_joins!(),
                " WHERE messages_fts MATCH replace($1, '*', '') AND $2 <> '' AND ",
                search_message_filter!(),
                " ORDER BY f.rowid DESC LIMIT $3"
            ),
            (Backend::Sqlite, K::Messages) => concat!(
                search_message_columns!(),
                " FROM messages_fts f CROSS JOIN messages msg ON msg.rowid = f.rowid CROSS ",
                search_message_joins!(),
                " WHERE messages_fts MATCH $1 AND $2 <> '' AND ",
                search_message_filter!(),
                " ORDER BY f.rowid DESC LIMIT $3"
            ),
            (Backend::Postgres, K::MessagePhrases) => concat!(
                search_message_columns!(),
                " FROM messages msg ",
                search_message_joins!(),
                " WHERE msg.search_vector @@ phraseto_tsquery('simple', portico_words($2)) AND $1 <> '' AND ",
                search_message_filter!(),
                " ORDER BY msg.created_at + 0 DESC, msg.seq DESC, msg.chat_id DESC LIMIT $3"
            ),
            (Backend::Postgres, K::MessageWords) => concat!(
                search_message_columns!(),
                " FROM messages msg ",
                search_message_joins!(),
                " WHERE msg.search_vector @@ plainto_tsquery('simple', portico_words($2)) AND $1 <> '' AND ",
                search_message_filter!(),
                " ORDER BY msg.created_at + 0 DESC, msg.seq DESC, msg.chat_id DESC LIMIT $3"
            ),
            (Backend::Postgres, K::Messages) => concat!(
                search_message_columns!(),
                " FROM messages msg ",
                search_message_joins!(),
                " WHERE msg.search_vector @@ to_tsquery('simple', portico_fold($1)) AND $2 <> '' AND ",
                search_message_filter!(),
                " ORDER BY msg.created_at + 0 DESC, msg.seq DESC, msg.chat_id DESC LIMIT $3"
            ),
            (Backend::Sqlite, K::Questions) => concat!(
                search_question_columns!(),
                " FROM questions_fts f JOIN questions q ON q.rowid = f.rowid ",
                search_question_joins!(),
                " WHERE questions_fts MATCH $1 AND ",
                search_question_filter!(),
                " ORDER BY q.rowid IN (SELECT rowid FROM questions_fts WHERE questions_fts MATCH $2) DESC, \
                 f.rank, q.updated_at DESC LIMIT $3"
            ),
            (Backend::Postgres, K::Questions) => concat!(
                search_question_columns!(),
                " FROM questions q ",
                search_question_joins!(),
                " WHERE q.search_vector @@ to_tsquery('simple', portico_fold($1)) AND ",
                search_question_filter!(),
                " ORDER BY q.search_vector @@ phraseto_tsquery('simple', portico_words($2)) DESC, \
                 ts_rank(q.search_vector, to_tsquery('simple', portico_fold($1))) DESC, q.updated_at DESC LIMIT $3"
            ),
            (Backend::Sqlite, K::Answers) => concat!(
                search_answer_columns!(),
                " FROM question_entries_fts f JOIN question_entries e ON e.rowid = f.rowid ",
                search_answer_joins!(),
                " WHERE question_entries_fts MATCH $1 AND ",
                search_question_filter!(),
                " ORDER BY e.rowid IN (SELECT rowid FROM question_entries_fts WHERE question_entries_fts MATCH $2) DESC, \
                 f.rank, e.created_at DESC LIMIT $3"
            ),
            (Backend::Postgres, K::Answers) => concat!(
                search_answer_columns!(),
                " FROM question_entries e ",
                search_answer_joins!(),
                " WHERE e.search_vector @@ to_tsquery('simple', portico_fold($1)) AND ",
                search_question_filter!(),
                " ORDER BY e.search_vector @@ phraseto_tsquery('simple', portico_words($2)) DESC, \
                 ts_rank(e.search_vector, to_tsquery('simple', portico_fold($1))) DESC, e.created_at DESC LIMIT $3"
            ),
            (Backend::Sqlite, K::Files) => concat!(
                search_file_columns!(),
                " FROM files_fts f JOIN files fi ON fi.rowid = f.rowid ",
                search_file_joins!(),
                " WHERE files_fts MATCH $1 AND ",
                search_file_filter!(),
                " ORDER BY fi.rowid IN (SELECT rowid FROM files_fts WHERE files_fts MATCH $2) DESC, \
                 f.rank, fi.created_at DESC LIMIT $3"
            ),
            (Backend::Postgres, K::Files) => concat!(
                search_file_columns!(),
                " FROM files fi ",
                search_file_joins!(),
                " WHERE fi.search_vector @@ to_tsquery('simple', portico_fold($1)) AND ",
                search_file_filter!(),
                " ORDER BY fi.search_vector @@ phraseto_tsquery('simple', portico_words($2)) DESC, \
                 ts_rank(fi.search_vector, to_tsquery('simple', portico_fold($1))) DESC, fi.created_at DESC LIMIT $3"
            ),
            (Backend::Sqlite, K::Clients) => {
                "SELECT c.id, c.name, c.kind FROM clients_fts f JOIN clients c ON c.rowid = f.rowid \
                 WHERE clients_fts MATCH $1 AND c.practice_id = $4 AND $5 = 'staff' AND $6 <> '' \
                 ORDER BY c.rowid IN (SELECT rowid FROM clients_fts WHERE clients_fts MATCH $2) DESC, \
                 f.rank, LOWER(c.name) LIMIT $3"
            }
            (Backend::Postgres, K::Clients) => {
                "SELECT c.id, c.name, c.kind FROM clients c \
                 WHERE c.search_vector @@ to_tsquery('simple', portico_fold($1)) \
                 AND c.practice_id = $4 AND $5 = 'staff' AND $6 <> '' \
                 ORDER BY c.search_vector @@ phraseto_tsquery('simple', portico_words($2)) DESC, \
                 ts_rank(c.search_vector, to_tsquery('simple', portico_fold($1))) DESC, LOWER(c.name) LIMIT $3"
            }
            (Backend::Sqlite, K::Contacts) => {
                "SELECT k.id, k.name, k.email FROM contacts_fts f JOIN contacts k ON k.rowid = f.rowid \
                 WHERE contacts_fts MATCH $1 AND k.practice_id = $4 AND $5 = 'staff' AND $6 <> '' \
                 ORDER BY k.rowid IN (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH $2) DESC, \
                 f.rank, LOWER(k.name) LIMIT $3"
            }
            (Backend::Postgres, K::Contacts) => {
                "SELECT k.id, k.name, k.email FROM contacts k \
                 WHERE k.search_vector @@ to_tsquery('simple', portico_fold($1)) \
                 AND k.practice_id = $4 AND $5 = 'staff' AND $6 <> '' \
                 ORDER BY k.search_vector @@ phraseto_tsquery('simple', portico_words($2)) DESC, \
                 ts_rank(k.search_vector, to_tsquery('simple', portico_fold($1))) DESC, LOWER(k.name) LIMIT $3"
            }
        }
    }

    /// PostgreSQL's first read of a message tier ([`K::MessagePhrases`],
    /// [`K::MessageWords`], [`K::Messages`]): the same match, among only the
    /// practice's newest 2,000 messages (read by
    /// `messages_newest_search`, migration 0110, in the order results are given:
    /// time, then number, then chat, so that messages of one millisecond
    /// are ordered too). Every message of the practice outside the window
    /// is older than all of it, so when this finds `limit` messages they
    /// are exactly the newest `limit` the whole index would give, at the
    /// cost of reading the window; a word in most messages no longer costs
    /// a scan of them all. The window is a plain subquery, not a
    /// materialised one: its rows are tested as the index gives them
    /// instead of being copied whole (search vector and text) first, which
    /// took two thirds of the read (`EXPLAIN ANALYZE` on the benchmark's
    /// 1,000,000-message chat: 5.6 → 1.8 ms).
    /// When it finds fewer, the caller reads the index ([`Self::search_sql`]),
    /// which is quick for exactly those words: the ones that are rare among
    /// the newest messages. SQLite's index already gives its matches newest
    /// first, so it has no window (`None`).
    ///
    /// [`K::MessagePhrases`]: super::search::SearchKind::MessagePhrases
    /// [`K::MessageWords`]: super::search::SearchKind::MessageWords
    /// [`K::Messages`]: super::search::SearchKind::Messages
    pub(super) fn search_window_sql(self, kind: super::search::SearchKind) -> Option<&'static str> {
        use super::search::SearchKind as K;
        macro_rules! window {
            ($matches:literal) => {
                concat!(
                    search_message_columns!(),
                    " FROM (SELECT * FROM messages WHERE practice_id = $4 \
                     ORDER BY created_at DESC, seq DESC, chat_id DESC LIMIT 2000) msg ",
                    search_message_joins!(),
                    " WHERE msg.search_vector @@ ",
                    $matches,
                    " AND ",
                    search_message_filter!(),
                    " ORDER BY msg.created_at DESC, msg.seq DESC, msg.chat_id DESC LIMIT $3"
                )
            };
        }
        match (self, kind) {
            (Backend::Postgres, K::MessagePhrases) => Some(window!(
                "phraseto_tsquery('simple', portico_words($2)) AND $1 <> ''"
            )),
            (Backend::Postgres, K::MessageWords) => Some(window!(
                "plainto_tsquery('simple', portico_words($2)) AND $1 <> ''"
            )),
            (Backend::Postgres, K::Messages) => Some(window!(
                "to_tsquery('simple', portico_fold($1)) AND $2 <> ''"
            )),
            _ => None,
        }
    }

    pub(super) fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    pub(super) async fn connect(
        self,
        url: &str,
        options: &StoreOptions,
    ) -> Result<AnyPool, StoreError> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.connect_timeout)
            // The pool tests a connection when it comes back (a ping after
            // each use), so testing it again as it is taken, for every
            // statement, only adds a round trip to the hot path: one to
            // the connection's thread on SQLite, one over the network on
            // PostgreSQL. A connection idle for a while is tested still (a
            // restarted PostgreSQL, a connection its server timed out): a
            // broken one is closed and another taken.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= TEST_IDLE_CONNECTION_AFTER {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            });
        let pool = match self {
            // WAL lets readers run beside the writer; synchronous=FULL makes
            // every acknowledged commit survive a power cut; the busy timeout
            // makes concurrent writers queue instead of failing.
            Backend::Sqlite => pool.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; \
                         PRAGMA synchronous = FULL; \
                         PRAGMA foreign_keys = ON; \
                         PRAGMA busy_timeout = 5000;",
                    )
                    .await?;
                    Ok(())
                })
            }),
            // No JIT: PostgreSQL compiles a query it guesses to be costly,
            // and for a request's short queries the compilation (0.5–0.8 s
            // seen on a chat list over a 1,000,000-message chat) costs far
            // more than it could save.
            Backend::Postgres => pool.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("SET jit = off").await?;
                    Ok(())
                })
            }),
        };
        let url = match self {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        Ok(pool.connect(&url).await?)
    }

    /// The rows of a JSON array parameter `$1` as a table `j` with
    /// `columns` (name and PostgreSQL type, `text` or `bigint`): over
    /// `json_each` on SQLite, `json_to_recordset` on PostgreSQL. For the
    /// set-based statements of the notification window, whose shapes are
    /// many and alike.
    pub(super) fn json_rows(self, columns: &[(&str, &str)]) -> String {
        match self {
            Backend::Sqlite => format!(
                "(SELECT {} FROM json_each($1)) AS j",
                columns
                    .iter()
                    .map(|(name, _)| format!("value ->> '{name}' AS {name}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Backend::Postgres => format!(
                "json_to_recordset($1::json) AS j({})",
                columns
                    .iter()
                    .map(|(name, kind)| format!("{name} {kind}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// On PostgreSQL, locks the rows a notification window marks told
    /// (`$1` as for [`Backend::json_rows`] with `columns`, joined to `table`
    /// on `on`) one after another in `order`: two instances' windows, or a
    /// window and a batch of sends, then wait for each other instead of
    /// each locking a row the other needs next. SQLite has one writer.
    pub(super) fn lock_rows_sql(
        self,
        table: &str,
        columns: &[(&str, &str)],
        on: &str,
        order: &str,
    ) -> Option<String> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some(format!(
                "SELECT 1 FROM {table} JOIN {} ON {on} ORDER BY {order} FOR UPDATE OF {table}",
                self.json_rows(columns)
            )),
        }
    }
}

/// The channel live events travel on between instances (PostgreSQL).
pub const LIVE_CHANNEL: &str = "portico_live";

impl super::Store {
    /// Tells the other instances of live events: `NOTIFY` on PostgreSQL,
    /// one notification per payload, all in one statement (one round trip
    /// and one commit, however many piled up), in order; nothing on
    /// SQLite, where one instance owns the database.
    pub async fn notify_instances(&self, payloads: &[String]) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres && !payloads.is_empty() {
            let payloads =
                serde_json::to_string(payloads).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
            // A function scan hands its rows over in order and nothing
            // sorts them, so the notifications go out in the array's order.
            // PostgreSQL delivers a payload repeated within one transaction
            // once: every relayed payload is one to act on once (events
            // drawn again, sessions ended, kept people read again).
            sqlx::query(
                "SELECT count(pg_notify($1, payload)) \
                 FROM json_array_elements_text(CAST($2 AS json)) AS payload",
            )
            .bind(LIVE_CHANNEL)
            .bind(payloads)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }
}

/// Listens for the other instances' live events (PostgreSQL only).
pub async fn listen_instances(url: &str) -> Result<sqlx::postgres::PgListener, StoreError> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(LIVE_CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_chooses_the_engine() {
        assert_eq!(Backend::from_url("sqlite://x.db"), Ok(Backend::Sqlite));
        assert_eq!(
            Backend::from_url("postgres://localhost/portico"),
            Ok(Backend::Postgres)
        );
        assert_eq!(
            Backend::from_url("postgresql://localhost/portico"),
            Ok(Backend::Postgres)
        );
    }

    #[test]
    fn unknown_schemes_are_refused() {
        let err = Backend::from_url("mysql://localhost/portico").unwrap_err();
        assert!(err.contains("\"mysql\""), "{err}");
        assert!(Backend::from_url("portico.db").is_err());
    }
}
