-- Q1–Q5, X6: questions as threads, files, reminders that escalate, and
-- in-app alerts for staff.

ALTER TABLE practices ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE contacts ADD COLUMN time_zone TEXT;

-- Q5: a client's reminder schedule. every_days = 0 means off.
ALTER TABLE clients ADD COLUMN reminder_every_days INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN reminder_minute_of_day INTEGER NOT NULL DEFAULT 540;
ALTER TABLE clients ADD COLUMN reminder_max INTEGER NOT NULL DEFAULT 3;
ALTER TABLE clients ADD COLUMN reminder_sms_from_step INTEGER NOT NULL DEFAULT 2;

CREATE TABLE questions (
    id                   TEXT PRIMARY KEY,
    practice_id          TEXT NOT NULL,
    client_id            TEXT NOT NULL,
    -- Q3: with the client's setting on, only this contact sees the question.
    assignee_contact_id  TEXT,
    title                TEXT NOT NULL,
    details              TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('open', 'answered', 'resolved')),
    asked_by             TEXT NOT NULL,
    asked_at             INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    UNIQUE (practice_id, id),
    FOREIGN KEY (practice_id, client_id) REFERENCES clients (practice_id, id) ON DELETE CASCADE
);
CREATE INDEX questions_by_client ON questions (practice_id, client_id, status);
CREATE INDEX questions_by_status ON questions (practice_id, status, updated_at);

-- The thread: answers, follow-ups and what happened to the question.
CREATE TABLE question_entries (
    id           TEXT PRIMARY KEY,
    practice_id  TEXT NOT NULL,
    question_id  TEXT NOT NULL,
    author_kind  TEXT NOT NULL CHECK (author_kind IN ('staff', 'contact')),
    author_id    TEXT NOT NULL,
    author_name  TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('answer', 'follow_up', 'reassigned', 'resolved', 'reopened')),
    body         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (practice_id, id),
    FOREIGN KEY (practice_id, question_id) REFERENCES questions (practice_id, id) ON DELETE CASCADE
);
CREATE INDEX question_entries_by_question ON question_entries (practice_id, question_id, created_at);

-- Files kept in the object store, attached to a thread entry.
CREATE TABLE files (
    id            TEXT PRIMARY KEY,
    practice_id   TEXT NOT NULL,
    question_id   TEXT,
    entry_id      TEXT,
    name          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          INTEGER NOT NULL,
    storage_key   TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    FOREIGN KEY (practice_id, question_id) REFERENCES questions (practice_id, id) ON DELETE CASCADE
);
CREATE INDEX files_by_entry ON files (practice_id, entry_id);

-- Q5: one row per reminder slot claimed, so a slot is sent once however
-- many instances run.
CREATE TABLE reminder_runs (
    practice_id  TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    contact_id   TEXT NOT NULL,
    slot         TEXT NOT NULL,
    step         INTEGER NOT NULL,
    channels     TEXT NOT NULL,
    question_count INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (practice_id, client_id, contact_id, slot)
);

-- N1, X6: in-app alerts for staff.
CREATE TABLE alerts (
    id           TEXT PRIMARY KEY,
    practice_id  TEXT NOT NULL,
    staff_id     TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    dedupe_key   TEXT NOT NULL,
    text         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    read_at      INTEGER,
    UNIQUE (practice_id, staff_id, dedupe_key)
);
CREATE INDEX alerts_by_staff ON alerts (practice_id, staff_id, read_at);
