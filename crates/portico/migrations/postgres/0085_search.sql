-- X1: full-text search. Each searchable table carries a stored, generated
-- `search_vector` (so every write, whichever path makes it — a single send,
-- a group-committed batch, an erasure, a bulk load — changes it in the same
-- transaction, and adding the column indexes the rows already there) with a
-- GIN index. The text is folded first by `portico_words`: lower case, then
-- accents removed by Unicode decomposition (NFD) and dropping the combining
-- marks, with built-in functions only (no `unaccent` extension needed);
-- queries are folded by the same function. Needs a UTF8 database.

CREATE FUNCTION portico_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN regexp_replace(normalize(lower($1), NFD), '[\u0300-\u036f]', '', 'g');

-- The words of a text, folded, as SQLite's `unicode61` tokenizer sees them:
-- anything not a letter or digit separates words, so "report-2024.pdf" and
-- "jean.dupont@example.com" are found by each of their parts.
CREATE FUNCTION portico_words(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN regexp_replace(portico_fold($1), '[^[:alnum:]]+', ' ', 'g');

-- Messages: only those standing (a deleted message leaves the index at once).
ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    CASE WHEN deleted_at IS NULL THEN to_tsvector('simple', portico_words(body)) END
) STORED;
CREATE INDEX messages_search ON messages USING gin (search_vector);

ALTER TABLE questions ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', portico_words(title)), 'A')
    || setweight(to_tsvector('simple', portico_words(details)), 'B')
) STORED;
CREATE INDEX questions_search ON questions USING gin (search_vector);

ALTER TABLE question_entries ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    to_tsvector('simple', portico_words(body))
) STORED;
CREATE INDEX question_entries_search ON question_entries USING gin (search_vector);

ALTER TABLE files ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    to_tsvector('simple', portico_words(name))
) STORED;
CREATE INDEX files_search ON files USING gin (search_vector);

ALTER TABLE clients ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    to_tsvector('simple', portico_words(name))
) STORED;
CREATE INDEX clients_search ON clients USING gin (search_vector);

ALTER TABLE contacts ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', portico_words(name)), 'A')
    || setweight(to_tsvector('simple', portico_words(email)), 'B')
) STORED;
CREATE INDEX contacts_search ON contacts USING gin (search_vector);
