package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/userlife/userlife/projections"
)

// ErrRebuildRunning is returned by Rebuild when another rebuild of the same
// projection holds the database.
var ErrRebuildRunning = errors.New("postgres: a rebuild of this projection is already running")

// Rebuild builds projection ("users", "audit" or "revocations") aside and swaps it in,
// without stopping the live projector:
//
//   - it creates an empty shadow table (UNLOGGED, secondary indexes left for
//     later: both make the build several times cheaper) with its own
//     checkpoint row ("users#rebuild");
//   - fill applies batches to the shadow from sequence 1 until it reaches the
//     stream head, through the Projection it is given (it gathers in
//     memory and writes in bulk: see shadowUsers and bufferedShadow);
//   - the shadow gets its indexes and statistics and becomes LOGGED;
//   - one transaction locks the live checkpoint row, drops the live table,
//     renames the shadow (and its indexes) to the live names, sets the live
//     checkpoint to the shadow's and takes over the shadow's failures.
//
// Each statement sees the old table or the new one, never a half-built one.
// (A transaction that holds one snapshot across the swap, REPEATABLE READ,
// may pair the new table with the old checkpoint row: DDL is not MVCC in
// PostgreSQL. The queries here are single statements.) The live
// projector may have moved past the shadow's checkpoint meanwhile: its next
// batch then gets a *projections.GapError and it reads again from the new
// checkpoint. If fill fails, the shadow is dropped and the live table is
// untouched.
func (s *Store) Rebuild(ctx context.Context, projection string, fill func(ctx context.Context, p projections.Projection) error) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("postgres: rebuild %s: %w", projection, err)
		}
	}()
	var live target
	switch projection {
	case projections.Users:
		live = liveUsers
	case projections.Audit:
		live = liveAudit
	case RevocationsProjection:
		live = liveRevocations
	default:
		return fmt.Errorf("unknown projection %q (want %s, %s or %s)", projection, projections.Users, projections.Audit, RevocationsProjection)
	}
	sh := live.shadow()
	// The projection fill writes through, and what must run once it is done
	// for the shadow to hold everything fill applied.
	var p projections.Projection
	var flush func(context.Context) error
	switch projection {
	case projections.Users:
		u := s.shadowUsersAt(sh)
		p, flush = u, u.flush
	case projections.Audit:
		a := s.bufferedShadow(s.auditAt(sh))
		p, flush = a, a.flush
	default:
		// The live projection's way (fold the batch over the rows it
		// touches, one upsert) over batches of 50,000: a user's entry is
		// written about once per buffer.
		r := s.bufferedShadow(s.revocationsAt(sh))
		p, flush = r, r.flush
	}

	unlock, err := s.lockRebuild(ctx, projection)
	if err != nil {
		return err
	}
	defer unlock()
	// Whatever happens, no shadow outlives Rebuild; after the swap there is
	// none left to drop.
	defer s.dropShadow(context.WithoutCancel(ctx), sh)

	indexes, err := s.createShadow(ctx, live, sh)
	if err != nil {
		return err
	}
	if err := fill(ctx, p); err != nil {
		return fmt.Errorf("fill: %w", err)
	}
	if err := flush(ctx); err != nil {
		return err
	}
	if err := s.finishShadow(ctx, sh, indexes); err != nil {
		return err
	}
	return s.swap(ctx, live, sh, indexes)
}

// lockRebuild takes a session advisory lock for the rebuild of projection,
// on a connection kept out of the pool until unlock: two rebuilds at once
// would drop each other's shadow. A crashed process's lock goes with its
// connection.
func (s *Store) lockRebuild(ctx context.Context, projection string) (unlock func(), err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	key := "userlife.rebuild." + projection
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, key).Scan(&locked); err != nil {
		conn.Release()
		return nil, err
	}
	if !locked {
		conn.Release()
		return nil, ErrRebuildRunning
	}
	return func() {
		ctx := context.WithoutCancel(ctx)
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, key); err != nil {
			// Never hand a connection that may still hold the lock back
			// to the pool.
			_ = conn.Conn().Close(ctx)
		}
		conn.Release()
	}, nil
}

// swap puts the filled shadow in place of the live table in one transaction.
func (s *Store) swap(ctx context.Context, live, sh target, indexes []index) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The live checkpoint row first, as every Apply locks it first:
		// the live projector waits here instead of deadlocking with the
		// DROP below.
		if _, err := tx.Exec(ctx, `INSERT INTO projection_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING`, live.checkpoint); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE`, live.checkpoint); err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`DROP TABLE ` + ident(live.table))
		b.Queue(`ALTER TABLE ` + ident(sh.table) + ` RENAME TO ` + ident(live.table))
		for _, ix := range indexes {
			b.Queue(`ALTER INDEX ` + ident(ix.shadowName()) + ` RENAME TO ` + ident(ix.name))
		}
		b.Queue(`UPDATE projection_checkpoints SET position = coalesce(
    (SELECT position FROM projection_checkpoints WHERE name = $2), 0) WHERE name = $1`, live.checkpoint, sh.checkpoint)
		b.Queue(`DELETE FROM projection_checkpoints WHERE name = $1`, sh.checkpoint)
		// The rebuilt projection's failures are the shadow's. A message
		// that failed before and failed again counts up and keeps its
		// first time; one the new build applied is no failure any more.
		b.Queue(`DELETE FROM failed_events l WHERE l.projection = $1 AND NOT EXISTS (
    SELECT 1 FROM failed_events r WHERE r.projection = $2 AND r.seq = l.seq)`, live.checkpoint, sh.checkpoint)
		b.Queue(`INSERT INTO failed_events AS f (projection, seq, subject, error, data, failures, first_failed_at, last_failed_at)
SELECT $1, seq, subject, error, data, failures, first_failed_at, last_failed_at FROM failed_events WHERE projection = $2
ON CONFLICT (projection, seq) DO UPDATE SET
    failures = f.failures + EXCLUDED.failures, subject = EXCLUDED.subject, error = EXCLUDED.error,
    data = EXCLUDED.data, last_failed_at = EXCLUDED.last_failed_at`, live.checkpoint, sh.checkpoint)
		b.Queue(`DELETE FROM failed_events WHERE projection = $1`, sh.checkpoint)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("swap: %w", err)
		}
		return nil
	})
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }
