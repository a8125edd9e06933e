package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natsbench"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/adapters/postgres/pgtest"
	"github.com/userlife/userlife/projections/revocation"
)

// BenchmarkRevocationPropagation measures, with `serve` running in-process
// and a gateway-side Checker fed by a watcher on its own connection, the
// time from publishing a RevokeSessions command to the Checker refusing a
// token issued before it (measurePropagation, as `userlife bench` does);
// next to the core NATS request-reply round trip on the same server.
// idle: nothing else runs; load=1000/s: RevokeSessions on other users at a
// steady 1,000 commands/s while the measurement runs. The projections are
// in memory, as in `userlife bench`; store=postgres runs serve with its
// projections in PostgreSQL (USERLIFE_TEST_DATABASE_URL), where the
// revocation view must not wait on the store's batching.
func BenchmarkRevocationPropagation(b *testing.B) {
	b.Run("idle", func(b *testing.B) { propagation(b, 0, false) })
	b.Run("load=1000/s", func(b *testing.B) { propagation(b, 1000, false) })
	b.Run("store=postgres/idle", func(b *testing.B) { propagation(b, 0, true) })
}

// bgUsers is how many users the background load revokes sessions of.
const bgUsers = 1000

func propagation(b *testing.B, rate int, pg bool) {
	ctx := context.Background()
	cfg := ServeConfig{DataDir: b.TempDir(), NATSListen: "127.0.0.1:0",
		Concurrency: 16, CacheUsers: 10_000, Logger: slog.New(slog.DiscardHandler)}
	if pg {
		cfg.PostgresURL = pgtest.DSN(b)
	}
	app, err := Start(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { app.Close() })
	nc, js := natstest.Connect(b, app.NATSURL)
	store, err := natsadapter.NewEventStore(ctx, js)
	if err != nil {
		b.Fatal(err)
	}
	client, err := natsadapter.NewClient(ctx, js)
	if err != nil {
		b.Fatal(err)
	}
	ids, bgIDs := userIDs("p", b.N), userIDs("b", bgUsers)
	if err := seedConfirmed(ctx, store, append(ids, bgIDs...), 16); err != nil {
		b.Fatal(err)
	}
	_, gjs := natstest.Connect(b, app.NATSURL)
	checker := revocation.NewChecker(revocation.Config{})
	w, err := natsadapter.WatchRevocations(ctx, gjs, checker, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.Stop)

	var bg *background
	if rate > 0 {
		bg = startBackground(ctx, client, bgIDs, rate, 10*time.Minute)
		time.Sleep(200 * time.Millisecond) // let the load reach its steady state
	}
	rtt, rttErr := natsbench.RoundTrips(ctx, nc, natsbench.Load{Count: max(b.N, 100)})
	b.ResetTimer()
	lat, err := measurePropagation(ctx, client, checker, ids, 0)
	b.StopTimer()
	if bg != nil {
		achieved, bgErr := bg.Stop()
		if bgErr != nil {
			b.Fatal(bgErr)
		}
		b.ReportMetric(achieved, "bg-cmds/s")
	}
	if err != nil || rttErr != nil {
		b.Fatal(err, rttErr)
	}
	ms := func(r natsbench.Result, q float64) float64 { return float64(r.Quantile(q).Microseconds()) / 1000 }
	b.ReportMetric(ms(lat, 0.5), "p50-ms")
	b.ReportMetric(ms(lat, 0.99), "p99-ms")
	b.ReportMetric(ms(rtt, 0.5), "rtt-p50-ms")
	b.ReportMetric(ms(rtt, 0.99), "rtt-p99-ms")
}
