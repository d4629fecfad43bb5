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
    created_at   BIGINT NOT NULL
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
    covers_until  BIGINT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    target        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    delivered_at  BIGINT,
    opened_at     BIGINT,
    UNIQUE (practice_id, member_kind, member_id, covers_until)
);
CREATE INDEX push_notices_by_created ON push_notices (created_at);

-- The outbox carries pushes too.
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_channel_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_channel_check CHECK (channel IN ('email', 'sms', 'push'));
