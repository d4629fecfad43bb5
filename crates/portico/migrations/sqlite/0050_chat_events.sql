-- What happened to a chat besides its messages ("Olivia added Tom",
-- "Olivia renamed the group"), shown in place after message `after_seq`.

CREATE TABLE chat_events (
    id           TEXT PRIMARY KEY,
    practice_id  TEXT NOT NULL,
    chat_id      TEXT NOT NULL,
    after_seq    INTEGER NOT NULL,
    text         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    FOREIGN KEY (practice_id, chat_id) REFERENCES chats (practice_id, id) ON DELETE CASCADE
);
CREATE INDEX chat_events_by_chat ON chat_events (practice_id, chat_id, after_seq);
