-- Operators, their refresh tokens, failed logins, the keys of the public API
-- and the settings every process must agree on (such as the signing secret).
-- UUIDs are hyphenated lowercase TEXT; times are UTC, written by the
-- application as `YYYY-MM-DD HH:MM:SS[.ffffff]`, so that they compare as text.

CREATE TABLE admins (
    id            TEXT NOT NULL PRIMARY KEY,
    -- Lower case, as `Username` keeps it.
    username      TEXT NOT NULL,
    -- bcrypt.
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    CONSTRAINT admins_username_key UNIQUE (username)
) STRICT;

CREATE INDEX admins_created_at_idx ON admins (created_at, id);

-- Only a hash of each token handed out is kept. A login's tokens share a family.
CREATE TABLE refresh_tokens (
    token_hash TEXT NOT NULL PRIMARY KEY,
    admin_id   TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    family_id  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT,
    revoked_at TEXT
) STRICT;

CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_admin_idx ON refresh_tokens (admin_id);
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);

-- Failed logins by username (known or not), for the login throttle. `id` is
-- the rowid.
CREATE TABLE login_failures (
    id        INTEGER PRIMARY KEY,
    username  TEXT NOT NULL,
    failed_at TEXT NOT NULL
) STRICT;

CREATE INDEX login_failures_username_idx ON login_failures (username, failed_at);
CREATE INDEX login_failures_failed_at_idx ON login_failures (failed_at);

-- `api_key` is the public part; only a hash of the secret is kept. A revoked
-- key stays, so that its public part is never handed out again.
CREATE TABLE api_keys (
    id           TEXT NOT NULL PRIMARY KEY,
    name         TEXT NOT NULL,
    api_key      TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT,
    CONSTRAINT api_keys_api_key_key UNIQUE (api_key)
) STRICT;

CREATE INDEX api_keys_created_at_idx ON api_keys (created_at, id);

-- Values set once by the first process that needs them, then shared.
CREATE TABLE settings (
    name       TEXT NOT NULL PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
