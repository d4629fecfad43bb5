-- X7: a message (or a question event) marked urgent breaks through the
-- recipient's quiet hours.
ALTER TABLE messages ADD COLUMN urgent BIGINT NOT NULL DEFAULT 0;

-- S5: each person's own choice over the practice's default for the text
-- in their notification e-mails.
ALTER TABLE notify_prefs ADD COLUMN content TEXT NOT NULL DEFAULT 'practice'
    CHECK (content IN ('practice', 'include', 'exclude'));

-- N2: the events told of besides questions (a client's status update has
-- no question), whether one is urgent (X7) and how many files came with it.
ALTER TABLE notify_items ALTER COLUMN question_id DROP NOT NULL;
ALTER TABLE notify_items ADD COLUMN urgent BIGINT NOT NULL DEFAULT 0;
ALTER TABLE notify_items ADD COLUMN files BIGINT NOT NULL DEFAULT 0;
CREATE INDEX notify_items_by_client ON notify_items (practice_id, client_id, recipient_kind, recipient_id)
    WHERE read_at IS NULL;

-- N2: the staff who look after a client without being in its chat are
-- told by e-mail too: their chat alert says which chat, from which
-- message it stands unread, and up to which one they were told.
ALTER TABLE alerts ADD COLUMN chat_id TEXT;
ALTER TABLE alerts ADD COLUMN since_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN notified_seq BIGINT NOT NULL DEFAULT 0;
-- Alerts raised before this are not e-mailed about.
UPDATE alerts SET chat_id = substr(dedupe_key, 6),
    notified_seq = COALESCE((SELECT c.last_seq FROM chats c
                             WHERE c.practice_id = alerts.practice_id AND c.id = substr(alerts.dedupe_key, 6)), 0)
WHERE dedupe_key LIKE 'chat:%';
CREATE INDEX alerts_chat_pending ON alerts (created_at) WHERE read_at IS NULL AND chat_id IS NOT NULL;
