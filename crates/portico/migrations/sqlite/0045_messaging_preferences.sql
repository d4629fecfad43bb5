-- Messaging preferences (S1–S3, S6, S7), "Message the practice", and
-- scheduled sends (X10).

-- S3: when set, clients created at or after this time have no direct chats
-- started by their contacts, unless their own setting says otherwise.
ALTER TABLE practices ADD COLUMN client_chats_off_since INTEGER;
-- S6: the longest message a contact may send (NULL: the server's limit).
ALTER TABLE practices ADD COLUMN client_max_message_chars INTEGER;
-- Who answers a client's "Message the practice" when no one is assigned.
ALTER TABLE practices ADD COLUMN default_chat_staff_id TEXT;
-- S7: the autoresponder's text (NULL or empty: off).
ALTER TABLE practices ADD COLUMN autoresponder_text TEXT;
-- S3: a client's own setting (1 on, 0 off; NULL: as the practice says).
ALTER TABLE clients ADD COLUMN client_chats INTEGER;

-- S7: up to five weekly windows, in minutes of the week (Monday 00:00 is 0)
-- in the practice's time zone; a window may run over the week's end.
CREATE TABLE autoresponder_windows (
    practice_id   TEXT NOT NULL REFERENCES practices (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    start_minute  INTEGER NOT NULL,
    end_minute    INTEGER NOT NULL,
    PRIMARY KEY (practice_id, position)
);
-- S7: when the chat last had an automatic answer (once per 30 minutes).
ALTER TABLE chats ADD COLUMN last_autoreply_at INTEGER;
ALTER TABLE messages ADD COLUMN automatic INTEGER NOT NULL DEFAULT 0;

-- S1, S2: each person's own preferences.
CREATE TABLE messaging_preferences (
    practice_id  TEXT NOT NULL REFERENCES practices (id) ON DELETE CASCADE,
    member_kind  TEXT NOT NULL CHECK (member_kind IN ('staff', 'contact')),
    member_id    TEXT NOT NULL,
    enter_sends  INTEGER NOT NULL DEFAULT 1,
    open_latest  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (practice_id, member_kind, member_id)
);

-- X10: staff messages to be sent later, claimed like reminders.
CREATE TABLE scheduled_messages (
    id             TEXT PRIMARY KEY,
    practice_id    TEXT NOT NULL,
    chat_id        TEXT NOT NULL,
    author_id      TEXT NOT NULL,
    body           TEXT NOT NULL,
    send_at        INTEGER NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('scheduled', 'sending', 'sent', 'failed')),
    claimed_until  INTEGER NOT NULL DEFAULT 0,
    sent_seq       INTEGER,
    failure        TEXT,
    created_at     INTEGER NOT NULL,
    FOREIGN KEY (practice_id, chat_id) REFERENCES chats (practice_id, id) ON DELETE CASCADE
);
CREATE INDEX scheduled_messages_due ON scheduled_messages (state, send_at);
CREATE INDEX scheduled_messages_by_chat ON scheduled_messages (practice_id, chat_id, author_id);
