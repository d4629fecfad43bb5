-- X3: API tokens. The token itself is shown once; only its SHA-256 is
-- stored. A token acts as one team member (`staff_id`, who made it, or the
-- member an admin chose: `created_by` is then the admin), with the scopes
-- it was given (space separated, `clients:read`, `messages:write`, …).
CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    practice_id   TEXT NOT NULL REFERENCES practices (id) ON DELETE CASCADE,
    staff_id      TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    shown_prefix  TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT,
    FOREIGN KEY (practice_id, staff_id) REFERENCES staff_users (practice_id, id) ON DELETE CASCADE,
    FOREIGN KEY (practice_id, created_by) REFERENCES staff_users (practice_id, id) ON DELETE CASCADE
);
CREATE INDEX api_tokens_by_staff ON api_tokens (practice_id, staff_id);
CREATE INDEX api_tokens_by_maker ON api_tokens (practice_id, created_by);
