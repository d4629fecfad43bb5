-- X13: single sign-on for staff through the practice's OpenID Connect
-- provider. The client secret is sealed under the server's key (like the
-- two-factor secrets); flags are integers, times unix milliseconds.
CREATE TABLE practice_sso (
    practice_id           TEXT PRIMARY KEY REFERENCES practices (id) ON DELETE CASCADE,
    issuer_url            TEXT NOT NULL,
    client_id             TEXT NOT NULL,
    client_secret         TEXT NOT NULL,
    display_name          TEXT NOT NULL,
    require_sso           INTEGER NOT NULL DEFAULT 0,
    counts_as_two_factor  INTEGER NOT NULL DEFAULT 0,
    updated_at            INTEGER NOT NULL
);
-- Sign-ins sent to the provider and not yet back: found by the hash of
-- their state, used once, dropped when expired.
CREATE TABLE sso_logins (
    state_hash     TEXT PRIMARY KEY,
    practice_id    TEXT NOT NULL REFERENCES practices (id) ON DELETE CASCADE,
    nonce          TEXT NOT NULL,
    pkce_verifier  TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
);
CREATE INDEX sso_logins_expires ON sso_logins (expires_at);
