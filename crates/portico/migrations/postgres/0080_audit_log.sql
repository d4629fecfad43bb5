-- X2: the audit log people can read. Each entry says who (or which address,
-- for a failed sign-in), what, on which record and client, from which IP
-- address and in which request; entries are numbered per practice and each
-- carries the SHA-256 of the one before it (a hash chain).
ALTER TABLE audit_events ADD COLUMN seq BIGINT;
ALTER TABLE audit_events ADD COLUMN actor_label TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN client_id TEXT;
ALTER TABLE audit_events ADD COLUMN detail TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_events ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX audit_events_by_seq ON audit_events (practice_id, seq);
CREATE INDEX audit_events_by_client ON audit_events (practice_id, client_id, seq);
CREATE INDEX audit_events_by_actor ON audit_events (practice_id, actor_kind, actor_id, seq);

-- The head of each practice's chain: writers lock this row, so entries are
-- numbered one after another however many instances write at once. The
-- anchor is the last entry removed by retention: the chain is verified
-- from it.
CREATE TABLE audit_chains (
    practice_id  TEXT PRIMARY KEY REFERENCES practices (id) ON DELETE CASCADE,
    last_seq     BIGINT NOT NULL,
    last_hash    TEXT NOT NULL,
    anchor_seq   BIGINT NOT NULL,
    anchor_hash  TEXT NOT NULL
);

-- How long the practice keeps its audit log (default 7 years).
ALTER TABLE practices ADD COLUMN audit_retention_days BIGINT NOT NULL DEFAULT 2557;
