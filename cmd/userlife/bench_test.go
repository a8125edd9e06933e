package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
)

const benchUsers = 10_000

// benchService starts the service in-process on its own embedded server and
// seeds benchUsers confirmed users straight into the event store.
func benchService(b *testing.B, syncAlways bool) (*natsadapter.Client, jetstream.JetStream) {
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
	now := time.Now()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for u := w; u < benchUsers; u += 16 {
				id := fmt.Sprintf("bench-%d", u)
				mk := func(n int, p events.Payload) events.Event {
					return events.Event{ID: uuid.NewString(), Type: p.EventType(), UserID: id, OccurredAt: now,
						Actor: "bench", CommandID: fmt.Sprintf("seed-%d-%d", u, n), Data: p}
				}
				seq, err := store.Append(ctx, id, 0, []events.Event{mk(0, events.UserRegistered{Email: id + "@example.com"})})
				if err == nil {
					_, err = store.Append(ctx, id, seq, []events.Event{mk(1, events.UserConfirmed{})})
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	client, err := natsadapter.NewClient(ctx, js)
	if err != nil {
		b.Fatal(err)
	}
	return client, js
}

func revoke(r *rand.Rand) events.Command {
	return &events.RevokeSessions{CommandMeta: events.CommandMeta{
		UserID: fmt.Sprintf("bench-%d", r.IntN(benchUsers)), Actor: "bench", Reason: "benchmark"}}
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
// on random users out of 10,000, with 1 and 64 commands in flight. Compare
// with BenchmarkRawPublishExpectedSubjSeq in adapters/nats, run in the same
// `go test -bench` invocation.
//
// sync=always runs the embedded server with --sync-always.
func BenchmarkCommands(b *testing.B) {
	for _, syncAlways := range []bool{false, true} {
		for _, inflight := range []int{1, 64} {
			name := fmt.Sprintf("sync=%s/inflight=%d", map[bool]string{false: "interval", true: "always"}[syncAlways], inflight)
			b.Run(name, func(b *testing.B) { benchCommands(b, syncAlways, inflight) })
		}
	}
}

func benchCommands(b *testing.B, syncAlways bool, inflight int) {
	{
		{
			client, _ := benchService(b, syncAlways)
			var mu sync.Mutex
			var lat []time.Duration
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			per := (b.N + inflight - 1) / inflight
			for w := range inflight {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(w), 1))
					local := make([]time.Duration, 0, per)
					for range per {
						t0 := time.Now()
						out, err := client.Do(context.Background(), revoke(r))
						if err != nil || out.Status != events.StatusAccepted {
							b.Errorf("outcome %+v, err %v", out, err)
							return
						}
						local = append(local, time.Since(t0))
					}
					mu.Lock()
					lat = append(lat, local...)
					mu.Unlock()
				})
			}
			wg.Wait()
			b.ReportMetric(float64(per*inflight)/time.Since(start).Seconds(), "cmds/s")
			reportLatency(b, lat)
		}
	}
}

// BenchmarkCommandLatencyAt1000 sends commands at a steady 1,000/s (each
// in its own goroutine, as independent admins would) and reports the
// outcome latency distribution.
func BenchmarkCommandLatencyAt1000(b *testing.B) {
	client, _ := benchService(b, false)
	r := rand.New(rand.NewPCG(7, 7))
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var wg sync.WaitGroup
	for i := range b.N {
		<-tick.C
		cmd := revoke(r)
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
