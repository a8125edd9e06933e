package postgres_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/userlife/userlife/adapters/postgres"
	"github.com/userlife/userlife/projections"
)

// allNames are the projections RebuildAll can rebuild.
var allNames = []string{projections.Users, projections.Audit, postgres.RevocationsProjection}

// fillAll feeds several shadows as one projector feeds several
// projections, the hard way: it reads from the lowest checkpoint again
// after every few batches (a restarted session), sends every batch again
// once applied (redelivery), and once sends a batch that skips a message,
// which every shadow must refuse with a gap and nothing gathered.
func fillAll(t *testing.T, msgs []projections.Message) func(ctx context.Context, ps []projections.Projection) error {
	return func(ctx context.Context, ps []projections.Projection) error {
		sizes := []int{1, 333, 700, 45, 1200}
		gapSent := false
		for round := 0; ; round++ {
			var from uint64
			for i, p := range ps {
				cp, err := p.Checkpoint(ctx)
				if err != nil {
					return err
				}
				if i == 0 || cp < from {
					from = cp
				}
			}
			if int(from) == len(msgs) {
				return nil
			}
			// A restarted session: a few batches from the lowest checkpoint.
			pos := int(from)
			for k := 0; k < 3 && pos < len(msgs); k++ {
				n := sizes[(round+k)%len(sizes)]
				b := projections.Batch(msgs[pos:min(pos+n, len(msgs))])
				if !gapSent && pos > 2000 && len(b) > 1 {
					gapSent = true
					for _, p := range ps {
						var gap *projections.GapError
						if err := p.Apply(ctx, b[1:]); !errors.As(err, &gap) {
							t.Errorf("%s.Apply of a batch after a hole = %v, want a gap", p.Name(), err)
						}
					}
				}
				for range 2 { // the second time is a redelivery
					for _, p := range ps {
						if err := p.Apply(ctx, b); err != nil {
							return err
						}
					}
				}
				pos += len(b)
			}
		}
	}
}

// TestRebuildAllFromOneReading rebuilds the three projections from one
// reading of the stream, over damaged live tables, through restarted
// sessions, redeliveries and a hole: each table ends as the fold of the
// stream (users deleted, re-registered emails, revocations, poison
// messages recorded once), with no shadow left and the live names back.
func TestRebuildAllFromOneReading(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := migrated(t)
	s, raw := open(t, dsn), rawPool(t, dsn)
	postgres.SetShadowLimit(s, 400) // several background writes of the audit and revocations
	msgs := withPoison(withSessions(21, lifecycles(21, 9000, 1600)), 157)
	for _, p := range []projections.Projection{s.Users(), s.Audit(), s.Revocations()} {
		if err := fillWith(msgs[:3000], 1000)(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`DELETE FROM users WHERE id IN (SELECT id FROM users ORDER BY id LIMIT 30)`,
		`UPDATE users SET email = 'wrong@example.com' WHERE id = (SELECT max(id) FROM users)`,
		`DELETE FROM audit_events WHERE seq BETWEEN 10 AND 90`,
		`INSERT INTO revocations (user_id, state, revision) VALUES ('ghost', 'confirmed', 1)`,
	} {
		if _, err := raw.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := s.RebuildAll(ctx, allNames, fillAll(t, msgs)); err != nil {
		t.Fatalf("RebuildAll: %v", err)
	}
	requireFold(t, s, raw, msgs)
	requireRevocations(t, s, raw, msgs)
	requireNoShadows(t, raw)
	requireNoRevocationsShadow(t, raw)

	// The live projections carry on from the swapped-in checkpoints.
	more := withSessions(21, lifecycles(21, 9500, 1600))[9000:]
	all := append(append([]projections.Message{}, msgs...), more...)
	for _, p := range []projections.Projection{s.Users(), s.Audit(), s.Revocations()} {
		if err := p.Apply(ctx, more); err != nil {
			t.Fatal(err)
		}
	}
	requireFold(t, s, raw, all)
	requireRevocations(t, s, raw, all)
}

// TestRebuildAllMatchesRebuild: the same stream rebuilt projection by
// projection (Rebuild) and all at once (RebuildAll), with and without
// writes in the background, gives identical tables.
func TestRebuildAllMatchesRebuild(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	msgs := withPoison(withSessions(22, lifecycles(22, 6000, 1200)), 97)
	dump := func(s *postgres.Store, raw rawQuerier) string {
		t.Helper()
		var out string
		for _, q := range []string{
			`SELECT coalesce(string_agg(format('%s', u), ';' ORDER BY id), '') FROM users u`,
			`SELECT coalesce(string_agg(format('%s', a), ';' ORDER BY seq), '') FROM audit_events a`,
			`SELECT coalesce(string_agg(format('%s', r), ';' ORDER BY user_id), '') FROM revocations r`,
			`SELECT coalesce(string_agg(format('%s/%s/%s/%s', projection, seq, error, failures), ';' ORDER BY projection, seq), '') FROM failed_events`,
			`SELECT string_agg(format('%s=%s', name, position), ';' ORDER BY name) FROM projection_checkpoints`,
		} {
			var s string
			if err := raw.QueryRow(ctx, q).Scan(&s); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			out += s + "\n"
		}
		return out
	}
	var dumps []string
	for _, mode := range []string{"one by one", "all at once", "all at once, small buffers"} {
		dsn := migrated(t)
		s, raw := open(t, dsn), rawPool(t, dsn)
		switch mode {
		case "one by one":
			for _, name := range allNames {
				if err := s.Rebuild(ctx, name, fillWith(msgs, 500)); err != nil {
					t.Fatalf("%s: Rebuild(%s): %v", mode, name, err)
				}
			}
		case "all at once, small buffers":
			postgres.SetShadowLimit(s, 250)
			fallthrough
		default:
			err := s.RebuildAll(ctx, allNames, func(ctx context.Context, ps []projections.Projection) error {
				for _, b := range batches(msgs, 500) {
					for _, p := range ps {
						if err := p.Apply(ctx, b); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%s: RebuildAll: %v", mode, err)
			}
		}
		requireNoShadows(t, raw)
		dumps = append(dumps, dump(s, raw))
	}
	for i := 1; i < len(dumps); i++ {
		if dumps[i] != dumps[0] {
			t.Errorf("tables after a rebuild %d differ from those after a rebuild one by one", i)
		}
	}
}

type rawQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// TestRebuildAllRidesOutFailedWrites: background writes of the audit shadow
// fail; the failure comes back through a later Apply, the fill retries as
// the projector does, and the messages of the failed writes are written
// with the next ones: the table is whole, nothing doubled.
func TestRebuildAllRidesOutFailedWrites(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dsn := migrated(t)
	s, raw := open(t, dsn), rawPool(t, dsn)
	postgres.SetShadowLimit(s, 300)
	var failed atomic.Int64
	postgres.SetBeforeCommit(s, func(ctx context.Context, tx pgx.Tx, checkpoint string) error {
		if checkpoint == projections.Audit+"#rebuild" && failed.Add(1) <= 3 {
			return errors.New("connection lost")
		}
		return nil
	})
	msgs := withPoison(lifecycles(23, 5000, 900), 211)
	var errs int
	err := s.RebuildAll(ctx, projections.Names(), func(ctx context.Context, ps []projections.Projection) error {
		for _, p := range ps {
			r := &projector{p: p, msgs: msgs, batch: 250}
			if err := r.run(ctx); err != nil {
				return err
			}
			errs += r.errs
		}
		return nil
	})
	if err != nil {
		t.Fatalf("RebuildAll: %v", err)
	}
	if errs == 0 {
		t.Error("no failed write came back through Apply")
	}
	requireFold(t, s, raw, msgs)
	requireNoShadows(t, raw)
}

// TestRebuildAllThatFailsChangesNothing: a fill that fails while writes are
// in flight, the finishing of a shadow that fails, a projection named twice
// or unknown, and a projection whose rebuild is already running: the live
// tables stay as they were, no shadow is left, and no lock either.
func TestRebuildAllThatFailsChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := migrated(t)
	s, raw := open(t, dsn), rawPool(t, dsn)
	postgres.SetShadowLimit(s, 100)
	msgs := withPoison(withSessions(24, lifecycles(24, 3000, 500)), 101)
	for _, p := range []projections.Projection{s.Users(), s.Audit(), s.Revocations()} {
		if err := fillWith(msgs, 500)(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	boom := errors.New("stream unreachable")
	err := s.RebuildAll(ctx, allNames, func(ctx context.Context, ps []projections.Projection) error {
		for _, b := range batches(msgs[:2500], 150) {
			for _, p := range ps {
				if err := p.Apply(ctx, b); err != nil {
					return err
				}
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("RebuildAll with a failing fill = %v, want %v", err, boom)
	}
	requireFold(t, s, raw, msgs)
	requireRevocations(t, s, raw, msgs)
	requireNoShadows(t, raw)
	requireNoRevocationsShadow(t, raw)

	// An index that cannot be built on the users shadow (its expression
	// divides by zero on the 20-character emails of users 1000 and up,
	// which the live table does not hold) fails the finishing after fill:
	// nothing is swapped in, the audit's shadow included.
	if _, err := raw.Exec(ctx, `CREATE INDEX users_bad ON users ((1 / (length(email) - 20)))`); err != nil {
		t.Fatal(err)
	}
	if err := s.RebuildAll(ctx, projections.Names(), fillAllSame(lifecycles(25, 6000, 1500))); err == nil {
		t.Error("RebuildAll with an index that cannot be built = nil, want an error")
	}
	if _, err := raw.Exec(ctx, `DROP INDEX users_bad`); err != nil {
		t.Fatal(err)
	}
	requireFold(t, s, raw, msgs)
	requireNoShadows(t, raw)

	for _, names := range [][]string{{projections.Users, projections.Users}, {projections.Audit, "sessions"}} {
		if err := s.RebuildAll(ctx, names, fillAllSame(msgs)); err == nil {
			t.Errorf("RebuildAll(%v) = nil, want an error", names)
		}
	}

	started, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.Rebuild(ctx, projections.Users, func(ctx context.Context, p projections.Projection) error {
			close(started)
			<-release
			return fillWith(msgs, 500)(ctx, p)
		})
	}()
	select {
	case <-started:
	case err := <-first:
		t.Fatalf("first Rebuild: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the first rebuild never called fill")
	}
	if err := s.RebuildAll(ctx, []string{projections.Audit, projections.Users}, fillAllSame(msgs)); !errors.Is(err, postgres.ErrRebuildRunning) {
		t.Errorf("RebuildAll(audit, users) while users rebuilds = %v, want ErrRebuildRunning", err)
	}
	// The audit's lock went with the refused RebuildAll.
	if err := s.RebuildAll(ctx, []string{projections.Audit, postgres.RevocationsProjection}, fillAllSame(msgs)); err != nil {
		t.Errorf("RebuildAll(audit, revocations) while users rebuilds = %v, want nil", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first Rebuild: %v", err)
	}
	requireFold(t, s, raw, msgs)
	requireRevocations(t, s, raw, msgs)
	requireNoShadows(t, raw)
	requireNoRevocationsShadow(t, raw)
}

// fillAllSame applies msgs in batches of 500 to every projection.
func fillAllSame(msgs []projections.Message) func(ctx context.Context, ps []projections.Projection) error {
	return func(ctx context.Context, ps []projections.Projection) error {
		for _, p := range ps {
			if err := fillWith(msgs, 500)(ctx, p); err != nil {
				return err
			}
		}
		return nil
	}
}

func requireNoRevocationsShadow(t *testing.T, raw rawQuerier) {
	t.Helper()
	var n int
	err := raw.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM pg_class WHERE relname LIKE 'revocations_rebuild%')
    + (SELECT count(*) FROM projection_checkpoints WHERE name LIKE 'revocations#rebuild')
    + (SELECT count(*) FROM failed_events WHERE projection LIKE 'revocations#rebuild')`).Scan(&n)
	if err != nil || n != 0 {
		t.Errorf("%d revocations shadow relations or rows left (%v)", n, err)
	}
}
