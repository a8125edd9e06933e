package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/adapters/postgres/pgtest"
	"github.com/userlife/userlife/events"
)

// deletionsService is a downstream service as docs/audit.md describes it:
// it keeps its own table of deleted users, fed by a durable consumer of
// its own on USERLIFE_EVENTS, and stays idempotent under redelivery by
// recording each event's stream sequence in the same transaction as its
// effect.
type deletionsService struct {
	db *pgxpool.Pool
	// applied counts effects; skipped counts redeliveries recognised.
	applied, skipped atomic.Int64
}

const deletionsSchema = `
CREATE TABLE processed_events (stream_seq bigint PRIMARY KEY, event_id text NOT NULL UNIQUE);
CREATE TABLE deleted_users (user_id text PRIMARY KEY, deleted_at timestamptz NOT NULL, times_seen int NOT NULL);`

// handle applies one delivery: the effect and the sequence commit together,
// or neither does; a sequence already recorded is a redelivery.
func (s *deletionsService) handle(ctx context.Context, m jetstream.Msg) error {
	md, err := m.Metadata()
	if err != nil {
		return err
	}
	e, err := events.Decode(m.Data())
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO processed_events (stream_seq, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			md.Sequence.Stream, e.ID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			s.skipped.Add(1)
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO deleted_users (user_id, deleted_at, times_seen) VALUES ($1, $2, 1)
			ON CONFLICT (user_id) DO UPDATE SET times_seen = deleted_users.times_seen + 1`, e.UserID, e.OccurredAt); err != nil {
			return err
		}
		s.applied.Add(1)
		return nil
	})
}

// run fetches and handles deliveries until want effects are applied.
// misbehave may make a delivery
// fail: "nak" (handled as an error, redelivered at once) or "noack" (the
// effect is committed but the ack is lost: redelivered after AckWait).
func (s *deletionsService) run(t *testing.T, cons jetstream.Consumer, want int, misbehave func(seq uint64, delivered uint64) string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for int(s.applied.Load()) < want {
		batch, err := cons.Fetch(10, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			md, _ := m.Metadata()
			mode := ""
			if misbehave != nil {
				mode = misbehave(md.Sequence.Stream, md.NumDelivered)
			}
			if mode == "nak" {
				_ = m.Nak()
				continue
			}
			if err := s.handle(ctx, m); err != nil {
				t.Fatalf("seq %d: %v", md.Sequence.Stream, err)
			}
			if mode == "noack" {
				continue
			}
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatalf("applied %d of %d before the deadline", s.applied.Load(), want)
		}
	}
}

func newDeletionsService(t *testing.T) *deletionsService {
	t.Helper()
	ctx := context.Background()
	db, err := pgxpool.New(ctx, pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.Exec(ctx, deletionsSchema); err != nil {
		t.Fatal(err)
	}
	return &deletionsService{db: db}
}

func (s *deletionsService) deleted(t *testing.T) map[string]int {
	t.Helper()
	rows, _ := s.db.Query(context.Background(), `SELECT user_id, times_seen FROM deleted_users`)
	out := map[string]int{}
	var id string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error { out[id] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// deletionsLog appends users registered then deleted, n of them, and
// returns the stream time after the first half.
func deletionsLog(t *testing.T, js jetstream.JetStream, n int) (half time.Time, halfSeq uint64) {
	t.Helper()
	ctx := context.Background()
	store, err := natsadapter.NewEventStore(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		u := fmt.Sprintf("d-%02d", i)
		now := time.Now().UTC()
		v, err := store.Append(ctx, u, 0, []events.Event{{ID: "reg-" + u, Type: events.TypeUserRegistered, UserID: u, OccurredAt: now,
			Actor: "t", CommandID: "r-" + u, Data: events.UserRegistered{Email: u + "@example.com"}}})
		if err != nil {
			t.Fatal(err)
		}
		seq, err := store.Append(ctx, u, v, []events.Event{{ID: "del-" + u, Type: events.TypeUserDeleted, UserID: u, OccurredAt: now,
			Actor: "t", CommandID: "d-" + u, Data: events.UserDeleted{RevokedBefore: now}}})
		if err != nil {
			t.Fatal(err)
		}
		if i == n/2-1 {
			halfSeq = seq
			time.Sleep(20 * time.Millisecond)
			half = time.Now()
			time.Sleep(20 * time.Millisecond)
		}
	}
	return half, halfSeq
}

// TestDownstreamReplay: a new downstream service starts with a durable
// consumer of its own from the first event, from a sequence, or from a
// time; redeliveries (a Nak, an ack lost after the commit, a restart) never
// apply an event twice.
func TestDownstreamReplay(t *testing.T) {
	t.Parallel()
	_, js := natstest.Provisioned(t)
	const users = 20
	half, halfSeq := deletionsLog(t, js, users)
	ctx := context.Background()
	stream, err := js.Stream(ctx, natsadapter.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	durable := func(name string, cfg jetstream.ConsumerConfig) jetstream.Consumer {
		cfg.Durable = name
		cfg.FilterSubject = events.EventSubjectPrefix + "*." + string(events.TypeUserDeleted)
		cfg.AckPolicy = jetstream.AckExplicitPolicy
		cfg.AckWait = 500 * time.Millisecond
		cfg.MaxDeliver = -1
		c, err := stream.CreateOrUpdateConsumer(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	t.Run("from the first event, with redeliveries and a restart", func(t *testing.T) {
		t.Parallel()
		svc := newDeletionsService(t)
		cons := durable("deletions-all", jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
		var redelivered atomic.Int64
		misbehave := func(seq, delivered uint64) string {
			if delivered > 1 {
				redelivered.Add(1)
				return ""
			}
			switch seq % 5 {
			case 0:
				return "nak"
			case 2:
				return "noack" // committed, ack lost: AckWait redelivers it
			}
			return ""
		}
		svc.run(t, cons, users/2, misbehave)
		// A restart: a new handle on the same durable resumes where the
		// acknowledged deliveries end.
		again, err := stream.Consumer(ctx, "deletions-all")
		if err != nil {
			t.Fatal(err)
		}
		svc.run(t, again, users, misbehave)
		// Let the lost acks come back and be recognised.
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			info, err := again.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.NumAckPending == 0 && info.NumPending == 0 {
				break
			}
			batch, _ := again.Fetch(10, jetstream.FetchMaxWait(time.Second))
			for m := range batch.Messages() {
				if err := svc.handle(ctx, m); err != nil {
					t.Fatal(err)
				}
				_ = m.DoubleAck(ctx)
			}
		}
		got := svc.deleted(t)
		if len(got) != users {
			t.Fatalf("deleted_users has %d users, want %d", len(got), users)
		}
		for u, n := range got {
			if n != 1 {
				t.Errorf("user %s applied %d times", u, n)
			}
		}
		if redelivered.Load() == 0 || svc.skipped.Load() == 0 {
			t.Errorf("redelivered %d, recognised %d: the test did not exercise redelivery", redelivered.Load(), svc.skipped.Load())
		}
	})

	t.Run("from a sequence", func(t *testing.T) {
		t.Parallel()
		svc := newDeletionsService(t)
		cons := durable("deletions-from-seq", jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: halfSeq + 1})
		svc.run(t, cons, users/2, nil)
		got := svc.deleted(t)
		if len(got) != users/2 || got[fmt.Sprintf("d-%02d", users/2)] != 1 || got[fmt.Sprintf("d-%02d", users/2-1)] != 0 {
			t.Errorf("from seq %d: %v", halfSeq+1, got)
		}
	})

	t.Run("from a time", func(t *testing.T) {
		t.Parallel()
		svc := newDeletionsService(t)
		cons := durable("deletions-from-time", jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &half})
		svc.run(t, cons, users/2, nil)
		got := svc.deleted(t)
		if len(got) != users/2 || got[fmt.Sprintf("d-%02d", users/2)] != 1 || got[fmt.Sprintf("d-%02d", users/2-1)] != 0 {
			t.Errorf("from %s: %v", half, got)
		}
	})
}
