-- Communications, their queue state and their history. UUIDs are hyphenated
-- lowercase TEXT; times are UTC, written by the application as
-- `YYYY-MM-DD HH:MM:SS[.ffffff]`, so that they compare as text. The system
-- never deletes a communication: the users, departments, types and sources it
-- names cannot be deleted while it is kept (no ON DELETE action, for the reason
-- the directory migration gives).

CREATE TABLE communications (
    id                      TEXT NOT NULL PRIMARY KEY,
    department_id           TEXT NOT NULL REFERENCES departments (id),
    user_id                 TEXT NOT NULL REFERENCES users (id),
    communication_type_id   TEXT NOT NULL REFERENCES communication_types (id),
    -- The channel the caller asked for; dispatch falls back on no other.
    requested_source_id     TEXT REFERENCES communication_sources (id),
    -- The channel in use: the requested one, or the one dispatch chose last.
    communication_source_id TEXT REFERENCES communication_sources (id),
    communication_date      TEXT NOT NULL,
    status                  TEXT NOT NULL CHECK (status IN (
        'booked', 'not_sent', 'sent', 'delivered', 'read', 'failed', 'cancelled')),
    status_reason           TEXT CHECK (status_reason IN (
        'user_unavailable', 'rate_limited', 'retrying', 'user_blocked', 'no_channel',
        'provider_error', 'type_blocked', 'channel_blocked', 'receipt')),
    message                 TEXT NOT NULL,
    sent_at                 TEXT,
    delivered_at            TEXT,
    read_at                 TEXT,
    attempts                INTEGER NOT NULL CHECK (attempts >= 0),
    next_attempt_at         TEXT,
    provider_message_id     TEXT,
    batch_id                TEXT,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL,
    -- The queue. `due_at`: when dispatch is next to look at it (a booking at
    -- its date, a waiting one at its next attempt, a reserved one when its
    -- lease ends); null once sent or final.
    due_at                  TEXT,
    -- The moment the contact limits count it at: a booking at its date, a sent
    -- one at `sent_at`, one on its way at the moment dispatch reserved.
    counted_at              TEXT,
    -- The claim of the worker that reserved it, until `lease_until`.
    lease_id                TEXT,
    lease_until             TEXT,
    -- Provider calls on the current channel since it was last given up on.
    channel_attempts        INTEGER NOT NULL DEFAULT 0 CHECK (channel_attempts >= 0),
    -- The ids of the channels given up on, separated by spaces.
    given_up                TEXT NOT NULL DEFAULT ''
) STRICT;

-- What dispatch claims next, in order: only queued rows, however long the
-- history.
CREATE INDEX communications_due_idx ON communications (due_at, id) WHERE due_at IS NOT NULL;
-- The moments the contact limits count, per client and department.
CREATE INDEX communications_counted_idx ON communications (user_id, department_id, counted_at)
    WHERE counted_at IS NOT NULL;
CREATE INDEX communications_created_at_idx ON communications (created_at, id);
-- The references: for the checks of a delete, and for the list's filters.
CREATE INDEX communications_user_idx ON communications (user_id, created_at, id);
CREATE INDEX communications_department_idx ON communications (department_id, created_at, id);
CREATE INDEX communications_type_idx ON communications (communication_type_id);
CREATE INDEX communications_source_idx ON communications (communication_source_id);
CREATE INDEX communications_requested_source_idx ON communications (requested_source_id);
CREATE INDEX communications_batch_idx ON communications (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX communications_provider_message_idx ON communications (provider_message_id)
    WHERE provider_message_id IS NOT NULL;

-- The history of each communication, in the order it happened. `id` is the
-- rowid.
CREATE TABLE communication_events (
    id               INTEGER PRIMARY KEY,
    communication_id TEXT NOT NULL REFERENCES communications (id) ON DELETE CASCADE,
    at               TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN (
        'created', 'booked', 'deferred', 'channel_chosen', 'attempt_failed', 'sent',
        'delivered', 'read', 'failed', 'cancelled')),
    -- The code of the channel the step concerns.
    channel          TEXT,
    detail           TEXT,
    until            TEXT,
    reason           TEXT CHECK (reason IN (
        'user_unavailable', 'rate_limited', 'retrying', 'user_blocked', 'no_channel',
        'provider_error', 'type_blocked', 'channel_blocked', 'receipt'))
) STRICT;

CREATE INDEX communication_events_communication_idx ON communication_events (communication_id, id);
