-- X1: a search first looks among the practice's newest messages, read in
-- time order by this index (`Backend::search_window_sql`), so that a word
-- found in most of a large chat's messages costs a bounded read instead of
-- a scan of every message it is in. The index's order is the results'
-- (time, then number, then chat), so that a window's edge falls between
-- two messages even among those written in the same millisecond.
CREATE INDEX messages_newest_search ON messages (practice_id, created_at, seq, chat_id);

-- The messages' full-text index takes each new message at once rather than
-- in a pending list that every search must then scan and that some unlucky
-- send must one day merge (4 MB of it by default): steady times for both,
-- as PostgreSQL's manual advises where response time matters more than
-- insert speed.
ALTER INDEX messages_search SET (fastupdate = off);
SELECT gin_clean_pending_list('messages_search'::regclass);
