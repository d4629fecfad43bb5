-- P1, P8: team invitations (a link to choose a password) and SMS.

CREATE TABLE staff_tokens (
    token_hash   TEXT PRIMARY KEY,
    practice_id  TEXT NOT NULL,
    staff_id     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER,
    FOREIGN KEY (practice_id, staff_id) REFERENCES staff_users (practice_id, id) ON DELETE CASCADE
);
CREATE INDEX staff_tokens_by_staff ON staff_tokens (practice_id, staff_id);
