package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/userlife/userlife/adapters/postgres"
	"github.com/userlife/userlife/projections"
)

// fillWith is a fill that applies msgs in batches of n.
func fillWith(msgs []projections.Message, n int) func(ctx context.Context, p projections.Projection) error {
	return func(ctx context.Context, p projections.Projection) error {
		for _, b := range batches(msgs, n) {
			if err := p.Apply(ctx, b); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestRebuildRepairsAndSwapsInItsCheckpoint: a rebuild replaces damaged
// tables with the fold, takes over the failures (a message that failed
// again counts twice), and swaps in the checkpoint it reached. The live
// projector, ahead of it, gets a gap and reads again from there.
func TestRebuildRepairsAndSwapsInItsCheckpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := migrated(t)
	s, raw := open(t, dsn), rawPool(t, dsn)
	msgs := withPoison(lifecycles(6, 8000, 1500), 173)
	for _, p := range []projections.Projection{s.Users(), s.Audit()} {
		if err := fillWith(msgs, 1000)(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// Damage: rows lost, a row changed, an audit hole, a failure that a
	// fixed reducer would no longer produce.
	for _, q := range []string{
		`DELETE FROM users WHERE id IN (SELECT id FROM users ORDER BY id LIMIT 50)`,
		`UPDATE users SET email = 'wrong@example.com' WHERE id = (SELECT max(id) FROM users)`,
		`DELETE FROM audit_events WHERE seq BETWEEN 100 AND 200`,
		`INSERT INTO failed_events (projection, seq, subject, error, first_failed_at, last_failed_at)
VALUES ('users', 1, 's', 'fixed since', now(), now())`,
	} {
		if _, err := raw.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	half := msgs[:5000]
	for _, name := range projections.Names() {
		if err := s.Rebuild(ctx, name, fillWith(half, 700)); err != nil {
			t.Fatalf("Rebuild(%s): %v", name, err)
		}
	}
	requireFold(t, s, raw, half)
	requireNoShadows(t, raw)
	var twice, once int
	if err := raw.QueryRow(ctx, `SELECT count(*) FILTER (WHERE failures = 2), count(*) FILTER (WHERE failures = 1)
FROM failed_events WHERE seq <= 5000 AND projection = 'audit'`).Scan(&twice, &once); err != nil {
		t.Fatal(err)
	}
	if twice != 5000/173 || once != 0 {
		t.Errorf("audit failures: %d counted twice and %d once, want %d twice", twice, once, 5000/173)
	}

	for _, p := range []projections.Projection{s.Users(), s.Audit()} {
		err := p.Apply(ctx, projections.Batch(msgs[7999:]))
		var gap *projections.GapError
		if !errors.As(err, &gap) || gap.Checkpoint != 5000 || gap.First != 8000 {
			t.Fatalf("%s.Apply(8000) after the swap = %v, want a gap after 5000", p.Name(), err)
		}
		if err := (&projector{p: p, msgs: msgs, batch: 1000}).run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	requireFold(t, s, raw, msgs)
}

// TestRebuildThatFailsChangesNothing: a fill that fails leaves the live
// tables as they were and no shadow behind; a second rebuild of the same
// projection while one runs is refused; an unknown projection is an error.
func TestRebuildThatFailsChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := migrated(t)
	s, raw := open(t, dsn), rawPool(t, dsn)
	postgres.SetShadowLimit(s, 100)
	msgs := lifecycles(8, 2000, 400)
	for _, p := range []projections.Projection{s.Users(), s.Audit()} {
		if err := fillWith(msgs, 500)(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	boom := errors.New("stream unreachable")
	for _, name := range projections.Names() {
		err := s.Rebuild(ctx, name, func(ctx context.Context, p projections.Projection) error {
			if p.Name() != name {
				t.Errorf("Rebuild(%s) fills a projection named %q", name, p.Name())
			}
			if err := fillWith(msgs[:1500], 300)(ctx, p); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("Rebuild(%s) with a failing fill = %v, want %v", name, err, boom)
		}
	}
	requireFold(t, s, raw, msgs)
	requireNoShadows(t, raw)

	if err := s.Rebuild(ctx, "sessions", fillWith(msgs, 500)); err == nil {
		t.Error("Rebuild(sessions) = nil, want an error for an unknown projection")
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
	if err := s.Rebuild(ctx, projections.Users, fillWith(msgs, 500)); !errors.Is(err, postgres.ErrRebuildRunning) {
		t.Errorf("second Rebuild(users) while one runs = %v, want ErrRebuildRunning", err)
	}
	if err := s.Rebuild(ctx, projections.Audit, fillWith(msgs, 500)); err != nil {
		t.Errorf("Rebuild(audit) while users rebuilds = %v, want nil", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first Rebuild: %v", err)
	}
	requireFold(t, s, raw, msgs)
	requireNoShadows(t, raw)
}
