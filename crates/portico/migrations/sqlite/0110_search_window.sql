-- X1: PostgreSQL's search reads the newest messages first by a time index
-- (postgres/0110). SQLite's full-text index gives its matches newest first
-- by itself, so nothing changes here; this keeps the two engines' migration
-- numbers the same.
SELECT 1;
