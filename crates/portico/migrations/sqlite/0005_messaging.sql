-- M1, M4, M8, M14, M15: chats between staff and contacts, their messages,
-- and what each member has read.

CREATE TABLE chats (
    id               TEXT PRIMARY KEY,
    practice_id      TEXT NOT NULL REFERENCES practices (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
    title            TEXT NOT NULL,
    client_id        TEXT,
    last_seq         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    last_message_at  INTEGER NOT NULL,
    UNIQUE (practice_id, id),
    FOREIGN KEY (practice_id, client_id) REFERENCES clients (practice_id, id) ON DELETE CASCADE
);
CREATE INDEX chats_by_client ON chats (practice_id, client_id);

CREATE TABLE chat_members (
    practice_id    TEXT NOT NULL,
    chat_id        TEXT NOT NULL,
    member_kind    TEXT NOT NULL CHECK (member_kind IN ('staff', 'contact')),
    member_id      TEXT NOT NULL,
    last_read_seq  INTEGER NOT NULL DEFAULT 0,
    -- M6: hidden until the next message; M4: starred chats come first.
    hidden         INTEGER NOT NULL DEFAULT 0,
    starred        INTEGER NOT NULL DEFAULT 0,
    joined_at      INTEGER NOT NULL,
    PRIMARY KEY (practice_id, chat_id, member_kind, member_id),
    FOREIGN KEY (practice_id, chat_id) REFERENCES chats (practice_id, id) ON DELETE CASCADE
);
CREATE INDEX chat_members_by_member ON chat_members (practice_id, member_kind, member_id);

CREATE TABLE messages (
    id               TEXT PRIMARY KEY,
    practice_id      TEXT NOT NULL,
    chat_id          TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    sender_kind      TEXT NOT NULL CHECK (sender_kind IN ('staff', 'contact')),
    sender_id        TEXT NOT NULL,
    sender_name      TEXT NOT NULL,
    body             TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    -- M11: the message this one replies to.
    reply_to_seq     INTEGER,
    -- M10: pinned, and deleted by its sender (a trace stays).
    pinned_at        INTEGER,
    deleted_at       INTEGER,
    created_at       INTEGER NOT NULL,
    UNIQUE (practice_id, chat_id, seq),
    UNIQUE (practice_id, sender_kind, sender_id, idempotency_key),
    FOREIGN KEY (practice_id, chat_id) REFERENCES chats (practice_id, id) ON DELETE CASCADE
);

-- M12: emoji reactions, one of each emoji per member and message.
CREATE TABLE message_reactions (
    practice_id  TEXT NOT NULL,
    chat_id      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    member_kind  TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    emoji        TEXT NOT NULL,
    PRIMARY KEY (practice_id, chat_id, seq, member_kind, member_id, emoji),
    FOREIGN KEY (practice_id, chat_id) REFERENCES chats (practice_id, id) ON DELETE CASCADE
);

-- What people did, for the audit log (X2): exports, deletions.
CREATE TABLE audit_events (
    id           TEXT PRIMARY KEY,
    practice_id  TEXT NOT NULL REFERENCES practices (id) ON DELETE CASCADE,
    actor_kind   TEXT NOT NULL,
    actor_id     TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX audit_events_by_practice ON audit_events (practice_id, created_at);

-- M9: files sent in a chat are kept like question files.
ALTER TABLE files ADD COLUMN chat_id TEXT;
ALTER TABLE files ADD COLUMN message_seq INTEGER;
CREATE INDEX files_by_chat ON files (practice_id, chat_id, message_seq);

-- M16: the client's current status, set from a staff message.
ALTER TABLE clients ADD COLUMN status_text TEXT;
ALTER TABLE clients ADD COLUMN status_at INTEGER;
ALTER TABLE clients ADD COLUMN status_by TEXT;

-- S8: whether staff may share a direct chat with other team members (M3).
ALTER TABLE practices ADD COLUMN allow_chat_sharing INTEGER NOT NULL DEFAULT 1;
