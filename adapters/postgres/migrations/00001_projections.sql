-- The read models of userlife. Every row here can be rebuilt from the event
-- stream (userlife replay), so a change of shape is a new migration plus a
-- replay, never a hand-written data fix.

-- +goose Up

-- users: one row per user that exists (deleted users have no row; their
-- history stays in audit_events). version is the stream sequence of the last
-- event applied: writers only ever raise it. id sorts bytewise (COLLATE "C")
-- whatever the database's locale, so keyset pages have the same order as
-- every other store's.
CREATE TABLE users (
    id             text        COLLATE "C" PRIMARY KEY,
    email          text        NOT NULL,
    state          text        NOT NULL,
    registered_at  timestamptz NOT NULL,
    confirmed_at   timestamptz,
    disabled_at    timestamptz,
    deleted_at     timestamptz,
    revoked_before timestamptz,
    version        bigint      NOT NULL,
    updated_at     timestamptz NOT NULL
);
-- Keyset pages filtered by state.
CREATE INDEX users_state_id ON users (state, id);
-- Case-insensitive email prefix search: lower(email) LIKE 'prefix%'.
CREATE INDEX users_email_prefix ON users (lower(email) text_pattern_ops);

-- audit_events: one row per event, kept forever.
CREATE TABLE audit_events (
    seq            bigint      PRIMARY KEY,
    event_id       text        NOT NULL,
    type           text        NOT NULL,
    user_id        text        NOT NULL,
    actor          text        NOT NULL,
    reason         text        NOT NULL DEFAULT '',
    command_id     text        NOT NULL,
    correlation_id text        NOT NULL DEFAULT '',
    occurred_at    timestamptz NOT NULL,
    data           jsonb       NOT NULL
);
CREATE INDEX audit_events_user_seq ON audit_events (user_id, seq);

-- The last stream sequence each projection applied, written in the same
-- transaction as its rows.
CREATE TABLE projection_checkpoints (
    name     text   PRIMARY KEY,
    position bigint NOT NULL
);

-- Messages a projection could not apply: recorded and skipped so one bad
-- event does not stall the projection.
CREATE TABLE failed_events (
    projection      text        NOT NULL,
    seq             bigint      NOT NULL,
    subject         text        NOT NULL,
    error           text        NOT NULL,
    data            bytea,
    failures        int         NOT NULL DEFAULT 1,
    first_failed_at timestamptz NOT NULL,
    last_failed_at  timestamptz NOT NULL,
    PRIMARY KEY (projection, seq)
);

-- +goose Down
DROP TABLE failed_events;
DROP TABLE projection_checkpoints;
DROP TABLE audit_events;
DROP TABLE users;
