package main

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/userlife/userlife/adapters/memory"
	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// benchEvents is the stream size of the replay benchmarks:
// USERLIFE_BENCH_EVENTS, default 200,000 (use 1000000 for the documented
// figures).
func benchEvents(b *testing.B) int {
	if s := os.Getenv("USERLIFE_BENCH_EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 5 {
			b.Fatalf("USERLIFE_BENCH_EVENTS=%q: want a number ≥ 5", s)
		}
		return n
	}
	return 200_000
}

// benchStream makes a server whose event stream holds n lifecycle events.
func benchStream(b *testing.B, n int) jetstream.JetStream {
	b.Helper()
	_, js := natstest.Provisioned(b)
	publishRaw(b, js, lifecycle(n/5))
	return js
}

// rawRead is the anchor: an ordered consumer reading every message, no
// decoding, no store.
func rawRead(b *testing.B, js jetstream.JetStream, n int) float64 {
	b.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, natsadapter.EventsStream)
	if err != nil {
		b.Fatal(err)
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	it, err := c.Messages(jetstream.PullMaxMessages(2000))
	if err != nil {
		b.Fatal(err)
	}
	defer it.Stop()
	start := time.Now()
	for range n {
		if _, err := it.Next(); err != nil {
			b.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkReplayMemory replays the whole stream into the in-memory store
// (what serve does at start) next to a raw ordered-consumer read of the same
// stream.
func BenchmarkReplayMemory(b *testing.B) {
	n := benchEvents(b)
	js := benchStream(b, n)
	for range b.N {
		raw := rawRead(b, js, n)
		m := memory.New()
		start := time.Now()
		pr := natsadapter.NewProjectors(js, []projections.Projection{m.Users(), m.Audit()},
			natsadapter.ProjectorConfig{BatchSize: 5000, Logger: slog.New(slog.DiscardHandler)})
		if err := pr.CatchUp(context.Background()); err != nil {
			b.Fatal(err)
		}
		rate := float64(n) / time.Since(start).Seconds()
		b.ReportMetric(rate, "events/s")
		b.ReportMetric(raw, "raw-read/s")
		b.ReportMetric(100*rate/raw, "%-of-raw")
	}
}

// BenchmarkReplayPostgres is `userlife replay`: both PostgreSQL projections
// rebuilt aside from the whole stream and swapped in, side by side, next to
// a raw CopyFrom of as many audit rows into a table shaped like
// audit_events (same columns, same indexes).
func BenchmarkReplayPostgres(b *testing.B) {
	n := benchEvents(b)
	js := benchStream(b, n)
	for range b.N {
		st, dsn := pgStoreB(b)
		raw := rawCopy(b, dsn, n)
		start := time.Now()
		if err := rebuildPostgres(context.Background(), js, st, projections.Names(), slog.New(slog.DiscardHandler)); err != nil {
			b.Fatal(err)
		}
		rate := float64(n) / time.Since(start).Seconds()
		b.ReportMetric(rate, "events/s")
		b.ReportMetric(raw, "raw-copy-rows/s")
		b.ReportMetric(100*rate/raw, "%-of-raw")
	}
}

// rawCopy is the anchor: CopyFrom of n audit-like rows into a copy of the
// audit_events table.
func rawCopy(b *testing.B, dsn string, n int) float64 {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE raw_copy (LIKE audit_events INCLUDING ALL)`); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{int64(i + 1), "0195924c-7a3b-7c1d-9e2f-3a4b5c6d7e8f", "SessionsRevoked", "user-" + strconv.Itoa(i%200_000),
			"loader", "test", "c-" + strconv.Itoa(i), now, []byte(`{"revoked_before":"2026-05-01T12:00:00Z"}`)}
	}
	start := time.Now()
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"raw_copy"},
		[]string{"seq", "event_id", "type", "user_id", "actor", "reason", "command_id", "occurred_at", "data"},
		pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkProjectionLag appends events at a steady 1,000/s while the
// PostgreSQL users projection runs, and reports how long after its append
// each event was committed to the table.
func BenchmarkProjectionLag(b *testing.B) {
	_, js := natstest.Provisioned(b)
	st, _ := pgStoreB(b)
	pr := natsadapter.NewProjector(js, st.Users(), natsadapter.ProjectorConfig{MaxLatency: 5 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go pr.Run(ctx)
	evs := lifecycle(max(b.N/5, 1))
	appended := make([]atomic.Int64, len(evs)+1) // unix nanos, read by the watcher
	var lags []time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		var seen uint64
		for seen < uint64(len(evs)) {
			pos := pr.Position()
			now := time.Now()
			for s := seen + 1; s <= pos && s <= uint64(len(evs)); s++ {
				lags = append(lags, now.Sub(time.Unix(0, appended[s].Load())))
			}
			seen = max(seen, pos)
			time.Sleep(200 * time.Microsecond)
		}
	}()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	for i, e := range evs {
		<-tick.C
		data, _ := events.Encode(e)
		appended[i+1].Store(time.Now().UnixNano())
		if _, err := js.Publish(ctx, events.EventSubject(e.UserID, e.Type), data); err != nil {
			b.Fatal(err)
		}
	}
	<-done
	slices.Sort(lags)
	q := func(p float64) float64 { return float64(lags[int(p*float64(len(lags)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "lag-p50-ms")
	b.ReportMetric(q(0.99), "lag-p99-ms")
}
