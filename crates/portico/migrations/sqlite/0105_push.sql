-- X12: Web Push to phones and browsers.

-- A device (a browser's push subscription) a person asked to be notified
-- on. An endpoint belongs to one browser: subscribing again there, as
-- anyone, takes it over.
CREATE TABLE push_subscriptions (
    id           TEXT PRIMARY KEY,
    practice_id  TEXT NOT NULL,
    member_kind  TEXT NOT NULL CHECK (member_kind IN ('staff', 'contact')),
    member_id    TEXT NOT NULL,
    endpoint     TEXT NOT NULL UNIQUE,
    -- RFC 8291: the browser's P-256 key and auth secret (base64url).
    p256dh       TEXT NOT NULL,
    auth         TEXT NOT NULL,
    -- "Chrome on Android": how the person tells their devices apart.
    label        TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX push_subscriptions_by_member ON push_subscriptions (practice_id, member_kind, member_id);

-- One push notification to a person (sent to each of their devices): it
-- covers what was pending up to covers_until. Claimed once per person and
-- covers_until, so instances sharing a database push once. Opened (its
-- link followed from the notification) after it was delivered, it stands
-- for the e-mail of the same items.
CREATE TABLE push_notices (
    id            TEXT PRIMARY KEY,
    practice_id   TEXT NOT NULL,
    member_kind   TEXT NOT NULL CHECK (member_kind IN ('staff', 'contact')),
    member_id     TEXT NOT NULL,
    covers_until  INTEGER NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    target        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    delivered_at  INTEGER,
    opened_at     INTEGER,
    UNIQUE (practice_id, member_kind, member_id, covers_until)
);
CREATE INDEX push_notices_by_created ON push_notices (created_at);

-- The outbox carries pushes too. SQLite cannot change a CHECK, so the
-- table is made again with the same columns and index.
CREATE TABLE outbox_new (
    id               TEXT PRIMARY KEY,
    practice_id      TEXT REFERENCES practices (id) ON DELETE CASCADE,
    channel          TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'push')),
    idempotency_key  TEXT NOT NULL UNIQUE,
    recipient        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body_text        TEXT NOT NULL,
    body_html        TEXT,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    claimed_until    INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    list_unsubscribe TEXT,
    reply_to         TEXT
);
INSERT INTO outbox_new (id, practice_id, channel, idempotency_key, recipient, subject, body_text,
    body_html, status, attempts, next_attempt_at, claimed_until, last_error, created_at, sent_at,
    list_unsubscribe, reply_to)
SELECT id, practice_id, channel, idempotency_key, recipient, subject, body_text,
    body_html, status, attempts, next_attempt_at, claimed_until, last_error, created_at, sent_at,
    list_unsubscribe, reply_to FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
