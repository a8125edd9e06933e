package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/userlife/userlife/projections"
)

// ErrRebuildRunning is returned by Rebuild and RebuildAll when another
// rebuild of the same projection holds the database.
var ErrRebuildRunning = errors.New("postgres: a rebuild of this projection is already running")

// Rebuild builds projection ("users", "audit" or "revocations") aside and
// swaps it in, without stopping the live projector: RebuildAll of one
// projection.
func (s *Store) Rebuild(ctx context.Context, projection string, fill func(ctx context.Context, p projections.Projection) error) error {
	return s.RebuildAll(ctx, []string{projection}, func(ctx context.Context, ps []projections.Projection) error {
		return fill(ctx, ps[0])
	})
}

// RebuildAll builds the named projections ("users", "audit",
// "revocations") aside and swaps each in, without stopping the live
// projectors. fill gets one projection per name, in the same order, to feed
// from one reading of the stream:
//
//   - it creates for each an empty shadow table (secondary indexes left for
//     later: building an index in one pass is cheaper than maintaining it
//     row by row) with its own checkpoint row ("users#rebuild");
//   - fill applies batches to the shadows from sequence 1 until they reach
//     the stream head, through the Projections it is given (they gather in
//     memory and write in bulk, the audit's writes running beside fill: see
//     shadowUsers and bufferedShadow);
//   - the shadows get their last rows, their indexes and their statistics,
//     all shadows at once, each on its own connection;
//   - then, one projection after the other, one transaction locks the live
//     checkpoint row, drops the live table, renames the shadow (and its
//     indexes) to the live names, sets the live checkpoint to the shadow's
//     and takes over the shadow's failures.
//
// The shadow tables are ordinary (logged) tables: their rows reach the WAL
// while fill runs, so nothing is left to make crash-safe once it is done
// (an UNLOGGED shadow made LOGGED at the end costs a rewrite of the whole
// table, its indexes and its WAL, all after fill). A shadow left behind by
// a crash is dropped by the next rebuild of its projection.
//
// Each statement sees the old table or the new one, never a half-built one.
// (A transaction that holds one snapshot across the swap, REPEATABLE READ,
// may pair the new table with the old checkpoint row: DDL is not MVCC in
// PostgreSQL. The queries here are single statements.) The live
// projector may have moved past the shadow's checkpoint meanwhile: its next
// batch then gets a *projections.GapError and it reads again from the new
// checkpoint. If fill or the finishing of any shadow fails, no shadow is
// swapped in, the shadows are dropped and the live tables are untouched;
// if a swap fails, the projections swapped before it stay swapped.
func (s *Store) RebuildAll(ctx context.Context, names []string, fill func(ctx context.Context, ps []projections.Projection) error) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("postgres: rebuild %s: %w", strings.Join(names, ","), err)
		}
	}()
	// The shadows' background writes run within wctx: ended when
	// RebuildAll returns, as no write may outlive it.
	wctx, cancelWrites := context.WithCancel(ctx)
	defer cancelWrites()
	rs := make([]*rebuild, len(names))
	for i, name := range names {
		r, err := s.newRebuild(wctx, name)
		if err != nil {
			return err
		}
		if slices.Contains(names[:i], name) {
			return fmt.Errorf("projection %q named twice", name)
		}
		rs[i] = r
	}
	for _, r := range rs {
		unlock, err := s.lockRebuild(ctx, r.live.projection)
		if err != nil {
			return err
		}
		defer unlock()
	}
	// Whatever happens, no shadow outlives RebuildAll (after its swap there
	// is none left to drop), nor any write to it.
	defer func() {
		cancelWrites()
		for _, r := range rs {
			r.wait()
			s.dropShadow(context.WithoutCancel(ctx), r.sh)
		}
	}()
	ps := make([]projections.Projection, len(rs))
	for i, r := range rs {
		if r.indexes, err = s.createShadow(ctx, r.live, r.sh); err != nil {
			return err
		}
		ps[i] = r.p
	}
	if err := fill(ctx, ps); err != nil {
		return fmt.Errorf("fill: %w", err)
	}
	errs := make([]error, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Go(func() {
			if errs[i] = r.flush(ctx); errs[i] == nil {
				errs[i] = s.finishShadow(ctx, r.sh, r.indexes)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, r := range rs {
		if err := s.swap(ctx, r.live, r.sh, r.indexes); err != nil {
			return err
		}
	}
	return nil
}

// rebuild is one projection of a RebuildAll.
type rebuild struct {
	live, sh target
	p        projections.Projection // what fill writes through
	// flush writes what p still holds; wait waits for p's write in flight
	// (RebuildAll drops the shadow after it).
	flush   func(context.Context) error
	wait    func()
	indexes []index
}

func (s *Store) newRebuild(ctx context.Context, projection string) (*rebuild, error) {
	r := &rebuild{wait: func() {}}
	switch projection {
	case projections.Users:
		r.live = liveUsers
		u := s.shadowUsersAt(r.live.shadow())
		r.p, r.flush = u, u.flush
	case projections.Audit:
		r.live = liveAudit
		a := s.bufferedShadow(ctx, s.auditAt(r.live.shadow()), 5)
		r.p, r.flush, r.wait = a, a.flush, a.wait
	case RevocationsProjection:
		// The live projection's way (fold the batch over the rows it
		// touches, one upsert) over batches of 50,000: a user's entry is
		// written about once per buffer.
		r.live = liveRevocations
		v := s.bufferedShadow(ctx, s.revocationsAt(r.live.shadow()), 1)
		r.p, r.flush, r.wait = v, v.flush, v.wait
	default:
		return nil, fmt.Errorf("unknown projection %q (want %s, %s or %s)", projection, projections.Users, projections.Audit, RevocationsProjection)
	}
	r.sh = r.live.shadow()
	return r, nil
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
