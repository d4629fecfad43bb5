-- S7 for each team member: an automatic answer of their own, sent as them
-- when a client writes in a chat they are in during one of their weekly
-- windows (minutes of the week, Monday 00:00 is 0, in their own time zone,
-- else the practice's). The practice's answer, when it applies, comes first.
CREATE TABLE staff_autoresponders (
    practice_id  TEXT NOT NULL,
    staff_id     TEXT NOT NULL,
    text         TEXT NOT NULL,
    PRIMARY KEY (practice_id, staff_id),
    FOREIGN KEY (practice_id, staff_id)
        REFERENCES staff_users (practice_id, id) ON DELETE CASCADE
);
CREATE TABLE staff_autoresponder_windows (
    practice_id   TEXT NOT NULL,
    staff_id      TEXT NOT NULL,
    position      INTEGER NOT NULL,
    start_minute  INTEGER NOT NULL,
    end_minute    INTEGER NOT NULL,
    PRIMARY KEY (practice_id, staff_id, position),
    FOREIGN KEY (practice_id, staff_id)
        REFERENCES staff_autoresponders (practice_id, staff_id) ON DELETE CASCADE
);
