-- X15: a team member's own time zone (else the practice's), and a
-- practice's brand: an accent colour and a logo.

ALTER TABLE staff_users ADD COLUMN time_zone TEXT;

-- A validated "#rrggbb", or none for Portico's own colour.
ALTER TABLE practices ADD COLUMN accent_colour TEXT;
-- Grows with every branding change, so addresses of the brand's stylesheet
-- and logo change with it (they are cached).
ALTER TABLE practices ADD COLUMN brand_version INTEGER NOT NULL DEFAULT 0;

CREATE TABLE practice_logos (
    practice_id   TEXT PRIMARY KEY REFERENCES practices (id) ON DELETE CASCADE,
    content_type  TEXT NOT NULL,
    bytes         BLOB NOT NULL,
    updated_at    INTEGER NOT NULL
);
