-- X1: full-text search. One FTS5 index per searchable table, each an
-- external-content table over its source (the text is stored once), kept in
-- step by triggers: every write, whichever path makes it (a single send, a
-- group-committed batch, an erasure, a bulk load), changes the index in the
-- same transaction. `unicode61 remove_diacritics 2` folds case and accents.
-- The source tables all have an index (their TEXT primary key), so VACUUM
-- and VACUUM INTO keep their rowids, which the indexes are keyed on.

-- Messages: only those standing (a deleted message leaves the index at once).
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    body, content = 'messages', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages
WHEN new.deleted_at IS NULL AND new.body <> '' BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.rowid, new.body);
END;
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages
WHEN old.deleted_at IS NULL AND old.body <> '' BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
END;
CREATE TRIGGER messages_fts_au AFTER UPDATE OF body, deleted_at ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body)
        SELECT 'delete', old.rowid, old.body WHERE old.deleted_at IS NULL AND old.body <> '';
    INSERT INTO messages_fts (rowid, body)
        SELECT new.rowid, new.body WHERE new.deleted_at IS NULL AND new.body <> '';
END;
INSERT INTO messages_fts (rowid, body)
    SELECT rowid, body FROM messages WHERE deleted_at IS NULL AND body <> '';

-- Questions: title and details.
CREATE VIRTUAL TABLE questions_fts USING fts5 (
    title, details, content = 'questions', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER questions_fts_ai AFTER INSERT ON questions BEGIN
    INSERT INTO questions_fts (rowid, title, details) VALUES (new.rowid, new.title, new.details);
END;
CREATE TRIGGER questions_fts_ad AFTER DELETE ON questions BEGIN
    INSERT INTO questions_fts (questions_fts, rowid, title, details)
        VALUES ('delete', old.rowid, old.title, old.details);
END;
CREATE TRIGGER questions_fts_au AFTER UPDATE OF title, details ON questions BEGIN
    INSERT INTO questions_fts (questions_fts, rowid, title, details)
        VALUES ('delete', old.rowid, old.title, old.details);
    INSERT INTO questions_fts (rowid, title, details) VALUES (new.rowid, new.title, new.details);
END;
INSERT INTO questions_fts (rowid, title, details) SELECT rowid, title, details FROM questions;

-- Answers and follow-ups in a question's thread.
CREATE VIRTUAL TABLE question_entries_fts USING fts5 (
    body, content = 'question_entries', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER question_entries_fts_ai AFTER INSERT ON question_entries
WHEN new.body <> '' BEGIN
    INSERT INTO question_entries_fts (rowid, body) VALUES (new.rowid, new.body);
END;
CREATE TRIGGER question_entries_fts_ad AFTER DELETE ON question_entries
WHEN old.body <> '' BEGIN
    INSERT INTO question_entries_fts (question_entries_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
END;
CREATE TRIGGER question_entries_fts_au AFTER UPDATE OF body ON question_entries BEGIN
    INSERT INTO question_entries_fts (question_entries_fts, rowid, body)
        SELECT 'delete', old.rowid, old.body WHERE old.body <> '';
    INSERT INTO question_entries_fts (rowid, body) SELECT new.rowid, new.body WHERE new.body <> '';
END;
INSERT INTO question_entries_fts (rowid, body) SELECT rowid, body FROM question_entries WHERE body <> '';

-- File names (a question's files and a chat's).
CREATE VIRTUAL TABLE files_fts USING fts5 (
    name, content = 'files', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER files_fts_ai AFTER INSERT ON files BEGIN
    INSERT INTO files_fts (rowid, name) VALUES (new.rowid, new.name);
END;
CREATE TRIGGER files_fts_ad AFTER DELETE ON files BEGIN
    INSERT INTO files_fts (files_fts, rowid, name) VALUES ('delete', old.rowid, old.name);
END;
CREATE TRIGGER files_fts_au AFTER UPDATE OF name ON files BEGIN
    INSERT INTO files_fts (files_fts, rowid, name) VALUES ('delete', old.rowid, old.name);
    INSERT INTO files_fts (rowid, name) VALUES (new.rowid, new.name);
END;
INSERT INTO files_fts (rowid, name) SELECT rowid, name FROM files;

-- Clients by name.
CREATE VIRTUAL TABLE clients_fts USING fts5 (
    name, content = 'clients', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER clients_fts_ai AFTER INSERT ON clients BEGIN
    INSERT INTO clients_fts (rowid, name) VALUES (new.rowid, new.name);
END;
CREATE TRIGGER clients_fts_ad AFTER DELETE ON clients BEGIN
    INSERT INTO clients_fts (clients_fts, rowid, name) VALUES ('delete', old.rowid, old.name);
END;
CREATE TRIGGER clients_fts_au AFTER UPDATE OF name ON clients BEGIN
    INSERT INTO clients_fts (clients_fts, rowid, name) VALUES ('delete', old.rowid, old.name);
    INSERT INTO clients_fts (rowid, name) VALUES (new.rowid, new.name);
END;
INSERT INTO clients_fts (rowid, name) SELECT rowid, name FROM clients;

-- Contacts by name and e-mail address.
CREATE VIRTUAL TABLE contacts_fts USING fts5 (
    name, email, content = 'contacts', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER contacts_fts_ai AFTER INSERT ON contacts BEGIN
    INSERT INTO contacts_fts (rowid, name, email) VALUES (new.rowid, new.name, new.email);
END;
CREATE TRIGGER contacts_fts_ad AFTER DELETE ON contacts BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, name, email) VALUES ('delete', old.rowid, old.name, old.email);
END;
CREATE TRIGGER contacts_fts_au AFTER UPDATE OF name, email ON contacts BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, name, email) VALUES ('delete', old.rowid, old.name, old.email);
    INSERT INTO contacts_fts (rowid, name, email) VALUES (new.rowid, new.name, new.email);
END;
INSERT INTO contacts_fts (rowid, name, email) SELECT rowid, name, email FROM contacts;
