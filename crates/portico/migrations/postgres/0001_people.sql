-- P1, P2, P3, P5: practices, staff, clients (with families), contacts.
-- Ids are UUIDv7 text; times are unix milliseconds; flags are 0/1 integers,
-- so that one SQL text decodes the same on SQLite and PostgreSQL.

CREATE TABLE practices (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE staff_users (
    id             TEXT PRIMARY KEY,
    practice_id    TEXT NOT NULL REFERENCES practices (id) ON DELETE CASCADE,
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    password_hash  TEXT,
    active         BIGINT NOT NULL DEFAULT 1,
    created_at     BIGINT NOT NULL,
    UNIQUE (practice_id, id)
);

CREATE TABLE clients (
    id                    TEXT PRIMARY KEY,
    practice_id           TEXT NOT NULL REFERENCES practices (id) ON DELETE CASCADE,
    name                  TEXT NOT NULL,
    kind                  TEXT NOT NULL CHECK (kind IN ('business', 'person', 'matter')),
    primary_client_id     TEXT,
    assignable_questions  BIGINT NOT NULL DEFAULT 0,
    created_at            BIGINT NOT NULL,
    UNIQUE (practice_id, id),
    FOREIGN KEY (practice_id, primary_client_id) REFERENCES clients (practice_id, id)
);
CREATE INDEX clients_by_practice_name ON clients (practice_id, name);
CREATE INDEX clients_by_primary ON clients (practice_id, primary_client_id);

CREATE TABLE client_staff (
    practice_id  TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    staff_id     TEXT NOT NULL,
    PRIMARY KEY (practice_id, client_id, staff_id),
    FOREIGN KEY (practice_id, client_id) REFERENCES clients (practice_id, id) ON DELETE CASCADE,
    FOREIGN KEY (practice_id, staff_id) REFERENCES staff_users (practice_id, id) ON DELETE CASCADE
);
CREATE INDEX client_staff_by_staff ON client_staff (practice_id, staff_id);

CREATE TABLE contacts (
    id           TEXT PRIMARY KEY,
    practice_id  TEXT NOT NULL REFERENCES practices (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    name         TEXT NOT NULL,
    phone        TEXT,
    status       TEXT NOT NULL CHECK (status IN ('invited', 'active')),
    created_at   BIGINT NOT NULL,
    UNIQUE (practice_id, email),
    UNIQUE (practice_id, id)
);

CREATE TABLE contact_clients (
    practice_id  TEXT NOT NULL,
    contact_id   TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (practice_id, contact_id, client_id),
    FOREIGN KEY (practice_id, contact_id) REFERENCES contacts (practice_id, id) ON DELETE CASCADE,
    FOREIGN KEY (practice_id, client_id) REFERENCES clients (practice_id, id) ON DELETE CASCADE
);
CREATE INDEX contact_clients_by_client ON contact_clients (practice_id, client_id);
