-- The key that seals secrets at rest, by its public id (never the key): an
-- instance started with another key refuses to start rather than fail to
-- read them. One row (slot 1); a rotation replaces its key id.
CREATE TABLE secret_keys (
    slot        INTEGER PRIMARY KEY CHECK (slot = 1),
    key_id      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
