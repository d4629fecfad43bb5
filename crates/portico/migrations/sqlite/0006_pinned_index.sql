-- M10: a chat page lists the chat's pinned messages. Without an index that
-- read goes through every message of the chat; with this partial one it
-- reads only the pinned few, however long the chat.
CREATE INDEX messages_pinned ON messages (practice_id, chat_id, pinned_at) WHERE pinned_at IS NOT NULL;
