-- X7: a message (or a question event) marked urgent breaks through the
-- recipient's quiet hours.
ALTER TABLE messages ADD COLUMN urgent INTEGER NOT NULL DEFAULT 0;

-- S5: each person's own choice over the practice's default for the text
-- in their notification e-mails.
ALTER TABLE notify_prefs ADD COLUMN content TEXT NOT NULL DEFAULT 'practice'
    CHECK (content IN ('practice', 'include', 'exclude'));

-- N2: the events told of besides questions (a client's status update has
-- no question), whether one is urgent (X7) and how many files came with
-- it. SQLite cannot drop a NOT NULL, so the table is made again.
CREATE TABLE notify_items_next (
    id              TEXT PRIMARY KEY,
    practice_id     TEXT NOT NULL,
    recipient_kind  TEXT NOT NULL CHECK (recipient_kind IN ('staff', 'contact')),
    recipient_id    TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    question_id     TEXT,
    what            TEXT NOT NULL,
    author_name     TEXT NOT NULL,
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    read_at         INTEGER,
    notified_at     INTEGER,
    urgent          INTEGER NOT NULL DEFAULT 0,
    files           INTEGER NOT NULL DEFAULT 0
);
INSERT INTO notify_items_next (id, practice_id, recipient_kind, recipient_id, client_id, question_id,
    what, author_name, title, body, created_at, read_at, notified_at)
SELECT id, practice_id, recipient_kind, recipient_id, client_id, question_id,
    what, author_name, title, body, created_at, read_at, notified_at FROM notify_items;
DROP TABLE notify_items;
ALTER TABLE notify_items_next RENAME TO notify_items;
CREATE INDEX notify_items_pending ON notify_items (created_at) WHERE notified_at IS NULL AND read_at IS NULL;
CREATE INDEX notify_items_by_question ON notify_items (practice_id, question_id, recipient_kind, recipient_id);
CREATE INDEX notify_items_by_client ON notify_items (practice_id, client_id, recipient_kind, recipient_id)
    WHERE read_at IS NULL;

-- N2: the staff who look after a client without being in its chat are
-- told by e-mail too: their chat alert says which chat, from which
-- message it stands unread, and up to which one they were told.
ALTER TABLE alerts ADD COLUMN chat_id TEXT;
ALTER TABLE alerts ADD COLUMN since_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN notified_seq INTEGER NOT NULL DEFAULT 0;
-- Alerts raised before this are not e-mailed about.
UPDATE alerts SET chat_id = substr(dedupe_key, 6),
    notified_seq = COALESCE((SELECT c.last_seq FROM chats c
                             WHERE c.practice_id = alerts.practice_id AND c.id = substr(alerts.dedupe_key, 6)), 0)
WHERE dedupe_key LIKE 'chat:%';
CREATE INDEX alerts_chat_pending ON alerts (created_at) WHERE read_at IS NULL AND chat_id IS NOT NULL;
