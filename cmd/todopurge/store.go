package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// schema is the example service's own data (todo_items) and its memory of
// the purges it did (todo_purges), one row per UserDeleted event handled.
const schema = `
CREATE TABLE IF NOT EXISTS todo_items (
    id       bigserial PRIMARY KEY,
    owner_id text NOT NULL,
    title    text NOT NULL
);
CREATE INDEX IF NOT EXISTS todo_items_owner_id ON todo_items (owner_id);
CREATE TABLE IF NOT EXISTS todo_purges (
    user_id       text        NOT NULL,
    event_id      text        NOT NULL,
    event_seq     bigint      NOT NULL,
    items_removed bigint      NOT NULL,
    purged_at     timestamptz NOT NULL,
    PRIMARY KEY (user_id, event_id)
);`

// schemaLock serialises schema creation between instances starting at once
// (CREATE TABLE IF NOT EXISTS is not safe against a concurrent twin).
const schemaLock = 0x746f646f // "todo"

// todoStore is the service's PostgreSQL database.
type todoStore struct {
	pool *pgxpool.Pool
}

func openStore(ctx context.Context, url string) (*todoStore, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, schemaLock); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, schema)
		return err
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: create todo_items and todo_purges: %w", err)
	}
	return &todoStore{pool: pool}, nil
}

func (s *todoStore) Close() { s.pool.Close() }

// purge is the erasure of one UserDeleted event: the user's items are
// deleted and the purge recorded in one transaction. The first delivery of
// the event deletes and records the count; any later one (a redelivery, a
// replay from the first event) deletes nothing and returns the recorded
// count and time, so the receipt it sends is the same as the first.
// Concurrent deliveries of one event meet at the primary key: the second
// waits for the first to commit, then finds its record.
func (s *todoStore) purge(ctx context.Context, userID, eventID string, seq uint64) (removed int64, at time.Time, first bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO todo_purges (user_id, event_id, event_seq, items_removed, purged_at)
            VALUES ($1, $2, $3, 0, now()) ON CONFLICT (user_id, event_id) DO NOTHING`, userID, eventID, int64(seq))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return tx.QueryRow(ctx, `SELECT items_removed, purged_at FROM todo_purges WHERE user_id = $1 AND event_id = $2`,
				userID, eventID).Scan(&removed, &at)
		}
		first = true
		del, err := tx.Exec(ctx, `DELETE FROM todo_items WHERE owner_id = $1`, userID)
		if err != nil {
			return err
		}
		removed = del.RowsAffected()
		return tx.QueryRow(ctx, `UPDATE todo_purges SET items_removed = $3 WHERE user_id = $1 AND event_id = $2 RETURNING purged_at`,
			userID, eventID, removed).Scan(&at)
	})
	if err != nil {
		return 0, time.Time{}, false, fmt.Errorf("purge items of user %s: %w", userID, err)
	}
	return removed, at.UTC(), first, nil
}
