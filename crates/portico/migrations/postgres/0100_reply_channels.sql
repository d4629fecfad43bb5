-- X11: replies to notifications by e-mail and by text.

-- A notification e-mail's Reply-To: one address per person and
-- conversation, named by a short random id (signed in the address).
CREATE TABLE reply_addresses (
    id                 TEXT PRIMARY KEY,
    practice_id        TEXT NOT NULL,
    member_kind        TEXT NOT NULL CHECK (member_kind IN ('staff', 'contact')),
    member_id          TEXT NOT NULL,
    conversation_kind  TEXT NOT NULL CHECK (conversation_kind IN ('chat', 'question')),
    conversation_id    TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    UNIQUE (practice_id, member_kind, member_id, conversation_kind, conversation_id)
);

ALTER TABLE outbox ADD COLUMN reply_to TEXT;

-- Every e-mail received for a reply address, once per Message-ID: what
-- became of it, and the whole text as it came (staff may read it).
CREATE TABLE inbound_mail (
    id                 TEXT PRIMARY KEY,
    message_id         TEXT NOT NULL,
    practice_id        TEXT NOT NULL,
    reply_address_id   TEXT NOT NULL,
    member_kind        TEXT NOT NULL CHECK (member_kind IN ('staff', 'contact')),
    member_id          TEXT NOT NULL,
    conversation_kind  TEXT NOT NULL CHECK (conversation_kind IN ('chat', 'question')),
    conversation_id    TEXT NOT NULL,
    from_address       TEXT NOT NULL,
    subject            TEXT NOT NULL,
    -- The reply as posted (quoted history and signature taken out).
    body               TEXT NOT NULL,
    -- The whole text of the e-mail, for "Show the full e-mail".
    original_text      TEXT NOT NULL,
    -- posted, held (From is not the address's person), discarded,
    -- ignored (an automatic reply), refused, no_access.
    status             TEXT NOT NULL,
    -- A held e-mail's raw message, in the file store, until decided.
    raw_key            TEXT,
    -- Where it was posted: the chat message's seq.
    message_seq        BIGINT,
    note               TEXT,
    created_at         BIGINT NOT NULL,
    decided_at         BIGINT,
    decided_by         TEXT
);
CREATE UNIQUE INDEX inbound_mail_message_id ON inbound_mail (message_id);
CREATE INDEX inbound_mail_by_status ON inbound_mail (practice_id, status, created_at);
CREATE INDEX inbound_mail_by_conversation ON inbound_mail (practice_id, conversation_kind, conversation_id);

-- STOP / START: numbers that asked for no more texts.
CREATE TABLE sms_opt_outs (
    phone       TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL
);

-- Texts received, once per provider message id.
CREATE TABLE inbound_sms (
    id           TEXT PRIMARY KEY,
    provider_id  TEXT NOT NULL,
    from_number  TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX inbound_sms_provider_id ON inbound_sms (provider_id);

-- A text is matched to the contact whose number it comes from.
CREATE INDEX contacts_by_phone ON contacts (phone);
