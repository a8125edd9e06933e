package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// withPoison replaces every nth message with one that did not decode, so
// streams carry failures (and, downstream of a lost registration, events
// for users with no row).
func withPoison(msgs []projections.Message, every int) []projections.Message {
	for i := every - 1; i < len(msgs); i += every {
		m := &msgs[i]
		*m = projections.Message{Seq: m.Seq, Subject: m.Subject, Data: []byte(`{"type":`),
			Err: fmt.Errorf("%w: unexpected end of JSON input", events.ErrMalformedEvent)}
	}
	return msgs
}

// fingerprint is what any write to the tables would change: row counts
// and the newest transaction id that wrote a row.
func fingerprint(t *testing.T, raw *pgxpool.Pool) string {
	t.Helper()
	var out string
	for _, table := range []string{"users", "audit_events", "projection_checkpoints", "failed_events"} {
		var n, xmin int64
		err := raw.QueryRow(context.Background(), `SELECT count(*), coalesce(max(xmin::text::bigint), 0) FROM `+table).Scan(&n, &xmin)
		if err != nil {
			t.Fatalf("fingerprint %s: %v", table, err)
		}
		out += fmt.Sprintf("%s: %d rows, xmin %d; ", table, n, xmin)
	}
	return out
}

// TestRedeliveryWritesNothing: batches at or below the checkpoint, whole or
// overlapping it, are accepted and change no row, not even a failure count.
func TestRedeliveryWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := migrated(t)
	s, raw := open(t, dsn), rawPool(t, dsn)
	msgs := withPoison(lifecycles(3, 5000, 1000), 97)
	bs := batches(msgs, 500)
	for _, p := range []projections.Projection{s.Users(), s.Audit()} {
		for _, b := range bs {
			if err := p.Apply(ctx, b); err != nil {
				t.Fatalf("%s.Apply: %v", p.Name(), err)
			}
		}
	}
	before := fingerprint(t, raw)
	for _, p := range []projections.Projection{s.Users(), s.Audit()} {
		redeliveries := append([]projections.Batch{projections.Batch(msgs), projections.Batch(msgs[4000:])}, bs...)
		for _, b := range redeliveries {
			if err := p.Apply(ctx, b); err != nil {
				t.Fatalf("%s.Apply(redelivery of %d..%d): %v", p.Name(), b[0].Seq, b.Last(), err)
			}
		}
	}
	if after := fingerprint(t, raw); after != before {
		t.Errorf("redelivery wrote:\nbefore %s\nafter  %s", before, after)
	}
	requireFold(t, s, raw, msgs)
}

// TestBatchWithAHoleIsRefused: a batch must be consecutive; one with a
// hole would move the checkpoint past messages never applied.
func TestBatchWithAHoleIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := migrated(t)
	s, raw := open(t, dsn), rawPool(t, dsn)
	msgs := lifecycles(9, 10, 5)
	holed := projections.Batch{msgs[0], msgs[1], msgs[3]}
	for _, p := range []projections.Projection{s.Users(), s.Audit()} {
		if err := p.Apply(ctx, holed); err == nil {
			t.Errorf("%s.Apply(seqs 1, 2, 4) = nil, want an error", p.Name())
		}
	}
	before := fingerprint(t, raw)
	for _, p := range []projections.Projection{s.Users(), s.Audit()} {
		if err := p.Apply(ctx, projections.Batch(msgs)); err != nil {
			t.Fatal(err)
		}
	}
	if before == fingerprint(t, raw) {
		t.Error("applying the stream wrote nothing")
	}
	requireFold(t, s, raw, msgs)
}

// TestRewoundCheckpointReappliesOnce: an operator who moves the checkpoints
// back makes the projectors apply again what the tables already hold. Audit
// rows are not doubled (COPY meets them and the batch is merged instead);
// the version guard keeps users rows from going back, so the rows end as
// the fold. (Events of users deleted since are recorded as failures on the
// way: their rows, and so their versions, are gone. Rebuild, not a rewind,
// is how to apply a stream again.)
func TestRewoundCheckpointReappliesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := migrated(t)
	s, raw := open(t, dsn), rawPool(t, dsn)
	msgs := withPoison(lifecycles(4, 4000, 800), 101)
	for _, p := range []projections.Projection{s.Users(), s.Audit()} {
		if err := (&projector{p: p, msgs: msgs, batch: 300}).run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := raw.Exec(ctx, `UPDATE projection_checkpoints SET position = 1000`); err != nil {
		t.Fatal(err)
	}
	for _, p := range []projections.Projection{s.Users(), s.Audit()} {
		if err := (&projector{p: p, msgs: msgs, batch: 450}).run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	requireRows(t, s, raw, msgs)
	var failures, counted, twice int
	err := raw.QueryRow(ctx, `SELECT count(*), coalesce(sum(failures), 0), count(*) FILTER (WHERE failures = 2)
FROM failed_events WHERE projection = 'audit'`).Scan(&failures, &counted, &twice)
	if err != nil {
		t.Fatal(err)
	}
	if want, again := 4000/101, 4000/101-1000/101; failures != want || twice != again || counted != want+again {
		t.Errorf("audit failures: %d, %d failing twice, %d in all; want %d, %d, %d", failures, twice, counted, want, again, want+again)
	}
}
