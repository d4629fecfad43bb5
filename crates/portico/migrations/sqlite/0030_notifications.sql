-- N1, N2, S4, S5, X7: notifications by e-mail and text, staff alerts,
-- each person's preferences and quiet hours.

-- N2: the last message of a chat a member was told of (messages are
-- notified from the read state; the send path writes nothing more).
ALTER TABLE chat_members ADD COLUMN notified_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX chats_by_last_message ON chats (last_message_at);

-- RFC 8058: notification e-mails carry a one-click unsubscribe address.
ALTER TABLE outbox ADD COLUMN list_unsubscribe TEXT;

-- S5: whether notification e-mails carry the text (off by default), for
-- contacts and for staff; the practice's window (NULL: the server's).
ALTER TABLE practices ADD COLUMN notify_content_contacts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE practices ADD COLUMN notify_content_staff INTEGER NOT NULL DEFAULT 0;
ALTER TABLE practices ADD COLUMN notify_delay_secs INTEGER;

-- Each person's choices (no row: the defaults).
CREATE TABLE notify_prefs (
    practice_id    TEXT NOT NULL,
    member_kind    TEXT NOT NULL CHECK (member_kind IN ('staff', 'contact')),
    member_id      TEXT NOT NULL,
    messages       TEXT NOT NULL DEFAULT 'both' CHECK (messages IN ('email', 'sms', 'both', 'none')),
    questions      TEXT NOT NULL DEFAULT 'both' CHECK (questions IN ('email', 'sms', 'both', 'none')),
    -- Staff: e-mail each time (batched), a daily digest, or never.
    staff_mode     TEXT NOT NULL DEFAULT 'each' CHECK (staff_mode IN ('each', 'daily', 'never')),
    digest_minute  INTEGER NOT NULL DEFAULT 480,
    -- X7: minutes after local midnight; NULL: no quiet hours.
    quiet_start    INTEGER,
    quiet_end      INTEGER,
    time_zone      TEXT,
    -- S4: the alert bar and its sound.
    in_app_alerts  INTEGER NOT NULL DEFAULT 1,
    alert_sound    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (practice_id, member_kind, member_id)
);

-- N2: question events waiting to be told of, one row per recipient.
CREATE TABLE notify_items (
    id              TEXT PRIMARY KEY,
    practice_id     TEXT NOT NULL,
    recipient_kind  TEXT NOT NULL CHECK (recipient_kind IN ('staff', 'contact')),
    recipient_id    TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    question_id     TEXT NOT NULL,
    what            TEXT NOT NULL,
    author_name     TEXT NOT NULL,
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    read_at         INTEGER,
    notified_at     INTEGER
);
CREATE INDEX notify_items_pending ON notify_items (created_at) WHERE notified_at IS NULL AND read_at IS NULL;
CREATE INDEX notify_items_by_question ON notify_items (practice_id, question_id, recipient_kind, recipient_id);

-- One notification per person and window, however many instances run.
CREATE TABLE notify_runs (
    practice_id  TEXT NOT NULL,
    member_kind  TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    window_key   TEXT NOT NULL,
    items        INTEGER NOT NULL,
    channels     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (practice_id, member_kind, member_id, window_key)
);

-- The key that signs unsubscribe links, made on first use.
CREATE TABLE notify_keys (
    name    TEXT PRIMARY KEY,
    secret  TEXT NOT NULL
);
