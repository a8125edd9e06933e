package main

import (
	"context"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natsbench"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/adapters/postgres/pgtest"
	"github.com/userlife/userlife/events"
)

// benchStream makes a server whose event stream holds n lifecycle events.
func benchStream(b *testing.B, n int) jetstream.JetStream {
	b.Helper()
	_, js := natstest.Provisioned(b)
	if err := natsbench.PublishLifecycles(context.Background(), js, n/natsbench.LifecycleSteps, nil); err != nil {
		b.Fatal(err)
	}
	return js
}

// replayMetrics reports a replay next to its anchor.
func replayMetrics(b *testing.B, r, raw natsbench.Result, err error, anchor string) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.Rate(), "events/s")
	b.ReportMetric(raw.Rate(), anchor)
	b.ReportMetric(100*r.Rate()/raw.Rate(), "%-of-raw")
}

// BenchmarkReplayMemory replays the whole stream into the in-memory store
// (what serve does at start) next to a raw ordered-consumer read of the same
// stream.
func BenchmarkReplayMemory(b *testing.B) {
	n := natstest.BenchEvents(b)
	js := benchStream(b, n)
	ctx := context.Background()
	for range b.N {
		raw, err := natsbench.OrderedRead(ctx, js, natsadapter.EventsStream, n, 0)
		if err != nil {
			b.Fatal(err)
		}
		r, err := measureReplayMemory(ctx, js, n)
		replayMetrics(b, r, raw, err, "raw-read/s")
	}
}

// BenchmarkAuditScan reads the whole stream as audit rows next to a raw
// ordered-consumer read of the same stream.
func BenchmarkAuditScan(b *testing.B) {
	n := natstest.BenchEvents(b)
	js := benchStream(b, n)
	ctx := context.Background()
	for range b.N {
		raw, err := natsbench.OrderedRead(ctx, js, natsadapter.EventsStream, n, 0)
		if err != nil {
			b.Fatal(err)
		}
		r, err := measureAuditScan(ctx, js, scanAuditLog, n)
		replayMetrics(b, r, raw, err, "raw-read/s")
	}
}

// BenchmarkReplayPostgres is `userlife replay`: both PostgreSQL projections
// rebuilt aside from the whole stream and swapped in, side by side, next to
// a raw CopyFrom of as many audit rows into a table shaped like
// audit_events (same columns, same indexes).
func BenchmarkReplayPostgres(b *testing.B) {
	n := natstest.BenchEvents(b)
	js := benchStream(b, n)
	ctx := context.Background()
	for range b.N {
		dsn := pgtest.DSN(b)
		r, err := measureReplayPostgres(ctx, js, dsn, n)
		if err != nil {
			b.Fatal(err)
		}
		raw, err := rawCopy(ctx, dsn, n)
		replayMetrics(b, r, raw, err, "raw-copy-rows/s")
	}
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
