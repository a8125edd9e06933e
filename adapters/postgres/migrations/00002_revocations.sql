-- The revocation view as a table: what the KV bucket userlife_revocations
-- holds, folded by the same reducer (projections/revocation.Reduce), for
-- readers that would rather query PostgreSQL than follow NATS. Its
-- checkpoint is the "revocations" row of projection_checkpoints; a database
-- migrated from version 1 starts it at 0, so the projector folds the stream
-- from sequence 1.

-- +goose Up

-- revocations: one row per user ever registered (a deleted user's row says
-- deleted and keeps refusing its tokens). revision is the stream sequence of
-- the last event folded in: writers only ever raise it. user_id sorts
-- bytewise, as users.id does.
CREATE TABLE revocations (
    user_id          text        COLLATE "C" PRIMARY KEY,
    state            text        NOT NULL,
    revoked_before   timestamptz NULL,
    revoked_sessions text[]      NOT NULL DEFAULT '{}',
    revision         bigint      NOT NULL
);

-- +goose Down
DROP TABLE revocations;
DELETE FROM failed_events WHERE projection IN ('revocations', 'revocations#rebuild');
DELETE FROM projection_checkpoints WHERE name IN ('revocations', 'revocations#rebuild');
