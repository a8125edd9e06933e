package postgres_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/userlife/userlife/adapters/postgres"
	"github.com/userlife/userlife/projections"
)

// TestCrashBeforeCommit kills the connection of a batch's transaction after
// its rows and checkpoint are written and before COMMIT, as a crash of the
// process or the network would. A new Store on the same database (the
// restarted process) resumes at the checkpoint and ends with exactly the
// fold: the lost batch applied once, nothing doubled.
func TestCrashBeforeCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := migrated(t)
	msgs := lifecycles(1, 6000, 1500)
	bs := batches(msgs, 500)

	crashed := open(t, dsn)
	var mu sync.Mutex
	commits := map[string]int{}
	postgres.SetBeforeCommit(crashed, func(ctx context.Context, tx pgx.Tx, checkpoint string) error {
		mu.Lock()
		commits[checkpoint]++
		n := commits[checkpoint]
		mu.Unlock()
		if n <= 3 { // the first three batches of each projection commit
			return nil
		}
		_, err := tx.Exec(ctx, `SELECT pg_terminate_backend(pg_backend_pid())`)
		if err == nil {
			err = errors.New("the backend survived pg_terminate_backend")
		}
		return err
	})
	for _, p := range []projections.Projection{crashed.Users(), crashed.Audit()} {
		for i, b := range bs[:4] {
			err := p.Apply(ctx, b)
			if (err != nil) != (i == 3) {
				t.Fatalf("%s.Apply(batch %d) = %v; want an error only for the 4th", p.Name(), i, err)
			}
		}
		if cp, err := p.Checkpoint(ctx); err != nil || cp != bs[2].Last() {
			t.Fatalf("%s.Checkpoint() after the crash = %d, %v; want %d (the last batch that committed)", p.Name(), cp, err, bs[2].Last())
		}
	}
	crashed.Close()

	restarted := open(t, dsn)
	var wg sync.WaitGroup
	for _, p := range []projections.Projection{restarted.Users(), restarted.Audit()} {
		wg.Go(func() {
			// Redeliver everything the crashed process saw, as a consumer
			// whose acks were lost would, then the rest.
			r := &projector{p: p, msgs: msgs, batch: 500}
			if err := p.Apply(ctx, projections.Batch(msgs[:bs[3].Last()])); err != nil {
				t.Errorf("%s: redelivery: %v", p.Name(), err)
			}
			if err := r.run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	requireFold(t, restarted, rawPool(t, dsn), msgs)
}

// TestTerminatedConnectionsDuringCatchUp catches up 100,000 messages in
// batches while another session keeps killing every connection of the
// database. The projectors ride it out by retrying from the checkpoint; the
// tables end equal to the fold, every audit row once.
func TestTerminatedConnectionsDuringCatchUp(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dsn := migrated(t)
	msgs := lifecycles(2, 100_000, 20_000)
	s := open(t, dsn)

	stop := make(chan struct{})
	var kills atomic.Int64
	killer := make(chan error, 1)
	go func() { killer <- killConnections(ctx, dsn, stop, &kills) }()

	runners := []*projector{{p: s.Users(), msgs: msgs, batch: 1000}, {p: s.Audit(), msgs: msgs, batch: 1000}}
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Go(func() {
			if err := r.run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-killer; err != nil {
		t.Fatalf("killer: %v", err)
	}
	t.Logf("%d connections killed; users rode out %d errors, audit %d", kills.Load(), runners[0].errs, runners[1].errs)
	if runners[0].errs == 0 || runners[1].errs == 0 {
		t.Errorf("a projector met no error (users %d, audit %d): the kills missed the catch-up", runners[0].errs, runners[1].errs)
	}
	// The pool's idle connections were killed too: check from fresh ones.
	s, raw := open(t, dsn), rawPool(t, dsn)
	requireFold(t, s, raw, msgs)
	var n int
	if err := raw.QueryRow(ctx, `SELECT count(*) FROM audit_events`).Scan(&n); err != nil || n != len(msgs) {
		t.Errorf("audit_events has %d rows (%v), want %d", n, err, len(msgs))
	}
}

// killConnections terminates every other connection to the database, again
// and again until stop is closed: each time at a random moment, but only
// once some checkpoint has moved since the last time, so the projectors
// always make progress between kills.
func killConnections(ctx context.Context, dsn string, stop <-chan struct{}, kills *atomic.Int64) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	rng := rand.New(rand.NewPCG(3, 4))
	var last int64 = -1
	for {
		select {
		case <-stop:
			return nil
		case <-time.After(time.Duration(1+rng.IntN(15)) * time.Millisecond):
		}
		var progress int64
		if err := conn.QueryRow(ctx, `SELECT coalesce(sum(position), 0) FROM projection_checkpoints`).Scan(&progress); err != nil {
			return err
		}
		if progress == last {
			continue
		}
		last = progress
		var n int64
		err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n)
		if err != nil {
			return err
		}
		kills.Add(n)
	}
}
