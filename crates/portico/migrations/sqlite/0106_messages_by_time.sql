-- X1: a practice's messages by time, newest first. Search lists the messages
-- with the words it looks for newest first and stops at its limit: on
-- PostgreSQL a common word is then found by walking this index backwards
-- (a rare one through the GIN index). SQLite's full-text index gives its
-- matches in that order itself; the index is here too so that both engines
-- keep one schema.
CREATE INDEX messages_by_time ON messages (practice_id, created_at);
