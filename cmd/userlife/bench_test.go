package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natsbench"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
)

const benchUsers = 10_000

// startBenchService starts the service in-process on its own embedded server and
// seeds benchUsers confirmed users (bench-0 …) straight into the event store.
func startBenchService(b *testing.B, syncAlways bool) (*natsadapter.Client, jetstream.JetStream) {
	b.Helper()
	app, err := Start(context.Background(), ServeConfig{
		DataDir: b.TempDir(), NATSListen: "127.0.0.1:0", Concurrency: 64, CacheUsers: 100_000, SyncAlways: syncAlways,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { app.Close() })
	_, js := natstest.Connect(b, app.NATSURL)
	ctx := context.Background()
	store, err := natsadapter.NewEventStore(ctx, js)
	if err != nil {
		b.Fatal(err)
	}
	if err := seedConfirmed(ctx, store, userIDs("bench-", benchUsers), 16); err != nil {
		b.Fatal(err)
	}
	client, err := natsadapter.NewClient(ctx, js)
	if err != nil {
		b.Fatal(err)
	}
	return client, js
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	if len(lat) == 0 {
		return
	}
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

// BenchmarkCommands measures publish → outcome for RevokeSessions commands
// on random users out of 10,000, with 1 and 64 commands in flight: the
// measurement `userlife bench` makes. Compare with
// BenchmarkRawPublishExpectedSubjSeq in adapters/nats, run in the same
// `go test -bench` invocation.
//
// sync=always runs the embedded server with --sync-always.
func BenchmarkCommands(b *testing.B) {
	for _, syncAlways := range []bool{false, true} {
		for _, inflight := range []int{1, 64} {
			name := fmt.Sprintf("sync=%s/inflight=%d", map[bool]string{false: "interval", true: "always"}[syncAlways], inflight)
			b.Run(name, func(b *testing.B) {
				client, _ := startBenchService(b, syncAlways)
				b.ResetTimer()
				r, err := measureCommands(context.Background(), client, userIDs("bench-", benchUsers), natsbench.Load{InFlight: inflight, Count: b.N})
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(r.Rate(), "cmds/s")
				reportLatency(b, r.Latencies)
			})
		}
	}
}

// BenchmarkCommandLatencyAt1000 sends commands at a steady 1,000/s (each
// in its own goroutine, as independent admins would) and reports the
// outcome latency distribution.
func BenchmarkCommandLatencyAt1000(b *testing.B) {
	client, _ := startBenchService(b, false)
	ids := userIDs("bench-", benchUsers)
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var wg sync.WaitGroup
	for i := range b.N {
		<-tick.C
		cmd := &events.RevokeSessions{CommandMeta: events.CommandMeta{UserID: ids[i%len(ids)], Actor: "bench", Reason: "benchmark"}}
		wg.Go(func() {
			t0 := time.Now()
			out, err := client.Do(context.Background(), cmd)
			if err != nil || out.Status != events.StatusAccepted {
				b.Errorf("outcome %+v, err %v", out, err)
				return
			}
			lat[i] = time.Since(t0)
		})
	}
	wg.Wait()
	reportLatency(b, lat)
}
