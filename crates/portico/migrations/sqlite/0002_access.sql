-- A1–A6, N3: sign-in, two-factor, sessions, single-use tokens, throttling
-- and the durable outbox.

ALTER TABLE practices ADD COLUMN require_totp INTEGER NOT NULL DEFAULT 0;

ALTER TABLE staff_users ADD COLUMN totp_secret TEXT;
ALTER TABLE staff_users ADD COLUMN totp_pending_secret TEXT;
ALTER TABLE staff_users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE staff_users ADD COLUMN last_sign_in_at INTEGER;

ALTER TABLE contacts ADD COLUMN password_hash TEXT;
ALTER TABLE contacts ADD COLUMN activated_at INTEGER;
ALTER TABLE contacts ADD COLUMN last_sign_in_at INTEGER;

-- Recovery codes for two-factor sign-in; only their SHA-256 is kept.
CREATE TABLE staff_recovery_codes (
    practice_id  TEXT NOT NULL,
    staff_id     TEXT NOT NULL,
    code_hash    TEXT NOT NULL,
    used_at      INTEGER,
    PRIMARY KEY (practice_id, staff_id, code_hash),
    FOREIGN KEY (practice_id, staff_id) REFERENCES staff_users (practice_id, id) ON DELETE CASCADE
);

-- Server-side sessions. The cookie holds a random 256-bit id; only its
-- SHA-256 is stored. `stage` is 'active', or 'totp' while a staff user still
-- owes their second factor, or 'enrol' while they must set one up.
CREATE TABLE sessions (
    id_hash       TEXT PRIMARY KEY,
    practice_id   TEXT NOT NULL REFERENCES practices (id) ON DELETE CASCADE,
    subject_kind  TEXT NOT NULL CHECK (subject_kind IN ('staff', 'contact')),
    subject_id    TEXT NOT NULL,
    stage         TEXT NOT NULL CHECK (stage IN ('active', 'totp', 'enrol')),
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    ip            TEXT NOT NULL,
    user_agent    TEXT NOT NULL
);
CREATE INDEX sessions_by_subject ON sessions (practice_id, subject_kind, subject_id);

-- Single-use, expiring tokens sent by e-mail: invitations, sign-in links,
-- password resets. Only their SHA-256 is stored.
CREATE TABLE tokens (
    token_hash   TEXT PRIMARY KEY,
    practice_id  TEXT NOT NULL REFERENCES practices (id) ON DELETE CASCADE,
    purpose      TEXT NOT NULL CHECK (purpose IN ('invitation', 'sign_in', 'reset')),
    contact_id   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER,
    FOREIGN KEY (practice_id, contact_id) REFERENCES contacts (practice_id, id) ON DELETE CASCADE
);
CREATE INDEX tokens_by_contact ON tokens (practice_id, contact_id);

-- Attempts counted for throttling (sign-in failures, link requests), by
-- what is throttled ('account:…', 'ip:…').
CREATE TABLE throttle_events (
    scope  TEXT NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX throttle_events_by_scope ON throttle_events (scope, at);

-- N3: every e-mail and SMS leaves through here, written in the same
-- transaction as the change that causes it.
CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    practice_id      TEXT REFERENCES practices (id) ON DELETE CASCADE,
    channel          TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
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
    sent_at          INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
