-- X3: webhooks. Admins register endpoints with the events they want; each
-- event is written as one delivery per endpoint in the transaction of the
-- change, and a worker posts them signed (Standard Webhooks), in order per
-- endpoint, with retries.
CREATE TABLE webhook_endpoints (
    id               TEXT PRIMARY KEY,
    practice_id      TEXT NOT NULL REFERENCES practices (id) ON DELETE CASCADE,
    url              TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    -- The events wanted, each between commas: ',message.created,client.created,'.
    events           TEXT NOT NULL,
    -- An admin allowed http and a loopback address (for testing).
    allow_local      INTEGER NOT NULL DEFAULT 0,
    enabled          INTEGER NOT NULL DEFAULT 1,
    -- The signing secret (whsec_…), and the one it replaced, which still
    -- signs until previous_until.
    secret           TEXT NOT NULL,
    previous_secret  TEXT,
    previous_until   INTEGER,
    -- The first failure since the last success (NULL: not failing).
    failing_since    INTEGER,
    -- Why it was disabled by Portico (NULL: by an admin, or enabled).
    disabled_reason  TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_by_practice ON webhook_endpoints (practice_id, created_at);

CREATE TABLE webhook_deliveries (
    -- Also the webhook-id header: the same on every retry.
    id               TEXT PRIMARY KEY,
    practice_id      TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    claimed_until    INTEGER NOT NULL DEFAULT 0,
    -- The last response's HTTP status (NULL: no response, see last_error).
    last_status      INTEGER,
    last_error       TEXT,
    -- The first few hundred characters of the last response's body.
    response_excerpt TEXT,
    -- The event's time: deliveries to one endpoint go in this order.
    created_at       INTEGER NOT NULL,
    delivered_at     INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, status, created_at, id);

-- Whether payloads carry message and question text (off by default).
ALTER TABLE practices ADD COLUMN webhook_content INTEGER NOT NULL DEFAULT 0;
