-- Clients, their availability, the two dictionaries and departments with their
-- policies. UUIDs are hyphenated lowercase TEXT; times are UTC, written by the
-- application as `YYYY-MM-DD HH:MM:SS.ffffff`.
--
-- A reference that must block a delete has no ON DELETE action (NO ACTION)
-- rather than RESTRICT: both refuse the delete, but SQLite reports RESTRICT as
-- a trigger failure instead of a foreign-key violation.

CREATE TABLE users (
    id          TEXT NOT NULL PRIMARY KEY,
    first_name  TEXT NOT NULL,
    last_name   TEXT NOT NULL,
    phone       TEXT,
    email       TEXT,
    push_token  TEXT,
    external_id TEXT,
    -- Lower-cased names, phone, e-mail and external id, for the `q` filter.
    search_text TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CONSTRAINT users_external_id_key UNIQUE (external_id)
) STRICT;

CREATE INDEX users_created_at_idx ON users (created_at, id);

CREATE TABLE user_availability (
    user_id      TEXT NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    status       TEXT NOT NULL CHECK (status IN ('active', 'blocked')),
    blocked_from TEXT,
    blocked_to   TEXT,
    CHECK (blocked_from IS NULL OR blocked_to IS NULL OR blocked_from < blocked_to)
) STRICT;

CREATE TABLE communication_types (
    id         TEXT NOT NULL PRIMARY KEY,
    code       TEXT NOT NULL,
    name       TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('active', 'blocked')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT communication_types_code_key UNIQUE (code)
) STRICT;

CREATE INDEX communication_types_created_at_idx ON communication_types (created_at, id);

CREATE TABLE communication_sources (
    id         TEXT NOT NULL PRIMARY KEY,
    code       TEXT NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('sms', 'messenger', 'email', 'push', 'webhook')),
    status     TEXT NOT NULL CHECK (status IN ('active', 'blocked')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT communication_sources_code_key UNIQUE (code)
) STRICT;

CREATE INDEX communication_sources_created_at_idx ON communication_sources (created_at, id);

CREATE TABLE departments (
    id         TEXT NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE INDEX departments_created_at_idx ON departments (created_at, id);

CREATE TABLE favorite_sources (
    department_id           TEXT NOT NULL REFERENCES departments (id) ON DELETE CASCADE,
    communication_type_id   TEXT NOT NULL REFERENCES communication_types (id),
    communication_source_id TEXT NOT NULL REFERENCES communication_sources (id),
    priority                INTEGER NOT NULL CHECK (priority >= 0),
    PRIMARY KEY (department_id, communication_type_id, communication_source_id)
) STRICT;

CREATE INDEX favorite_sources_type_idx ON favorite_sources (communication_type_id);
CREATE INDEX favorite_sources_source_idx ON favorite_sources (communication_source_id);

CREATE TABLE department_rules (
    id                    TEXT NOT NULL PRIMARY KEY,
    department_id         TEXT NOT NULL REFERENCES departments (id) ON DELETE CASCADE,
    communication_type_id TEXT REFERENCES communication_types (id),
    limit_per_unit        INTEGER NOT NULL CHECK (limit_per_unit >= 1),
    unit                  TEXT NOT NULL CHECK (unit IN ('second', 'minute', 'hour', 'day')),
    units_count           INTEGER NOT NULL CHECK (units_count >= 1),
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
) STRICT;

CREATE INDEX department_rules_department_idx ON department_rules (department_id, created_at, id);
CREATE INDEX department_rules_type_idx ON department_rules (communication_type_id);

-- The dictionaries every installation starts with. The ids are the same in the
-- PostgreSQL migration.
INSERT INTO communication_types (id, code, name, status, created_at, updated_at) VALUES
    ('cf173c38-998a-4d59-8e42-06c9ffd967cb', 'mass', 'Mass communication', 'active', strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now')),
    ('d201f13f-d6c4-4e4c-a6bb-07e0f4622200', 'personal', 'Personal communication', 'active', strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now')),
    ('eb8b5da5-f7c9-4972-9dee-c8ea41dcf2be', 'informational', 'Informational', 'active', strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now')),
    ('6a53abbe-9bde-447c-88b9-359e86974b6c', 'survey', 'Survey', 'active', strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now')),
    ('7fb6ed21-0b34-4afd-9b26-34ff124879a1', 'commercial_survey', 'Commercial survey', 'active', strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now')),
    ('68256410-990a-4cc6-aac8-8373940243a0', 'service', 'Service communication', 'active', strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now'));

INSERT INTO communication_sources (id, code, name, kind, status, created_at, updated_at) VALUES
    ('848e80cd-eba1-4a4a-aaa9-434067762559', 'sms', 'SMS', 'sms', 'active', strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now')),
    ('e43af760-8dec-4fa8-9c27-70b423d6df52', 'messenger', 'Messenger', 'messenger', 'active', strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now')),
    ('16c18500-df92-4de6-a6af-95599db5761f', 'email', 'E-mail', 'email', 'active', strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now')),
    ('b35cf9c0-a828-45a0-84b9-58f5302aad72', 'push', 'Push', 'push', 'active', strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now'));
