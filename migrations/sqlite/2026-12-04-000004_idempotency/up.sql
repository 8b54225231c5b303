-- The idempotency keys of sends and bulk sends (SPEC §3). A key belongs to
-- one caller: `scope` is `operator:<admin id>` or `api_key:<API key id>`.
-- The key is reserved by one INSERT before its request runs (in progress:
-- `status_code` NULL), then holds the final answer to replay. Nothing secret
-- is kept: the key, a hash of the request and the answer's body.
-- UUIDs are hyphenated lowercase TEXT; times are UTC, written by the
-- application as `YYYY-MM-DD HH:MM:SS[.ffffff]`, so that they compare as text.

CREATE TABLE idempotency_keys (
    scope           TEXT NOT NULL,
    idempotency_key TEXT NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    -- The request that holds the key; a new one on a take-over.
    reservation_id  TEXT NOT NULL,
    -- SHA-256, in hex, of the method, path and canonical body.
    fingerprint     TEXT NOT NULL,
    -- When the request holding the key started: the key expires 24 hours later.
    created_at      TEXT NOT NULL,
    -- The final answer; all NULL while the request is in progress.
    status_code     INTEGER CHECK (status_code BETWEEN 100 AND 499),
    content_type    TEXT,
    location        TEXT,
    body            TEXT,
    completed_at    TEXT,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (scope, idempotency_key),
    CONSTRAINT idempotency_keys_reservation_id_key UNIQUE (reservation_id),
    CONSTRAINT idempotency_keys_answer_check CHECK (
        (status_code IS NULL) = (body IS NULL)
        AND (status_code IS NULL) = (completed_at IS NULL))
) STRICT;

-- The clean-up removes the oldest first.
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
