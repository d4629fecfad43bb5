-- X10: questions to be asked later, claimed like scheduled messages. Until
-- then only their author sees them; asking one and marking it asked happen
-- in one transaction, so it is asked once across instances.
CREATE TABLE scheduled_questions (
    id             TEXT PRIMARY KEY,
    practice_id    TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    author_id      TEXT NOT NULL,
    title          TEXT NOT NULL,
    details        TEXT NOT NULL,
    assignee_id    TEXT,
    urgent         INTEGER NOT NULL DEFAULT 0,
    send_at        INTEGER NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('scheduled', 'sending', 'sent', 'failed')),
    claimed_until  INTEGER NOT NULL DEFAULT 0,
    question_id    TEXT,
    failure        TEXT,
    created_at     INTEGER NOT NULL,
    FOREIGN KEY (practice_id, client_id) REFERENCES clients (practice_id, id) ON DELETE CASCADE
);
CREATE INDEX scheduled_questions_due ON scheduled_questions (state, send_at);
CREATE INDEX scheduled_questions_by_client ON scheduled_questions (practice_id, client_id, author_id);
