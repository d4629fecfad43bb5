-- Stored bytes to remove once the rows that named them are gone (a chat or
-- a message deleted). Queued in the transaction that deletes the rows and
-- records the audit event; a worker removes the bytes after commit and
-- retries with back-off (the outbox pattern), so a crash leaves neither a
-- row without its audit entry nor bytes nobody will ever remove.
CREATE TABLE file_deletions (
    id               TEXT PRIMARY KEY,
    practice_id      TEXT NOT NULL,
    storage_key      TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    claimed_until    BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX file_deletions_due ON file_deletions (next_attempt_at);
