package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections/revocation"
)

// BenchmarkRevocationPropagation measures, with `serve` running in-process
// and a gateway-side Checker fed by a watcher on its own connection, the
// time from publishing a RevokeSessions command to the Checker refusing a
// token issued before it; next to the core NATS request-reply round trip
// on the same server. idle: nothing else runs; load=1000/s: a goroutine
// sends RevokeSessions on other users at a steady 1,000 commands/s while
// the measurement runs.
func BenchmarkRevocationPropagation(b *testing.B) {
	b.Run("idle", func(b *testing.B) { propagation(b, 0) })
	b.Run("load=1000/s", func(b *testing.B) { propagation(b, 1000) })
}

// bgUsers is how many users the background load revokes sessions of.
const bgUsers = 1000

// propagationSetup starts serve, registers and confirms users p0..p(n-1)
// (one per measurement) and, if bg, bgUsers others b0.., and starts a
// watcher-fed Checker on its own connection.
func propagationSetup(b *testing.B, n int, bg bool) (*natsadapter.Client, *nats.Conn, *revocation.Checker) {
	b.Helper()
	app, err := Start(context.Background(), ServeConfig{DataDir: b.TempDir(), NATSListen: "127.0.0.1:0",
		Concurrency: 16, CacheUsers: 10_000, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { app.Close() })
	_, js := natstest.Connect(b, app.NATSURL)
	ctx := context.Background()
	client, err := natsadapter.NewClient(ctx, js)
	if err != nil {
		b.Fatal(err)
	}
	register := func(id string) {
		m := events.CommandMeta{UserID: id, Actor: "bench"}
		if _, err := client.Do(ctx, &events.RegisterUser{CommandMeta: m, Email: id + "@example.com"}); err != nil {
			b.Fatal(err)
		}
		if _, err := client.Do(ctx, &events.ConfirmUser{CommandMeta: m}); err != nil {
			b.Fatal(err)
		}
	}
	// A user per iteration: each measurement starts from a user with no
	// revocation, so only the command under test can make Check refuse.
	for u := range n {
		register(fmt.Sprintf("p%d", u))
	}
	if bg {
		for u := range bgUsers {
			register(fmt.Sprintf("b%d", u))
		}
	}
	_, gjs := natstest.Connect(b, app.NATSURL)
	checker := revocation.NewChecker(revocation.Config{})
	w, err := natsadapter.WatchRevocations(ctx, gjs, checker, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.Stop)
	return client, js.Conn(), checker
}

// propagation is one sub-benchmark; rate is the background load in
// commands/s (0: none).
func propagation(b *testing.B, rate int) {
	client, nc, checker := propagationSetup(b, b.N, rate > 0)
	ctx := context.Background()

	// Anchor: core NATS round trip, measured under the same background
	// load as the propagation.
	sub, err := nc.Subscribe("bench.echo", func(m *nats.Msg) { _ = m.Respond(nil) })
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()

	// Background load: RevokeSessions on b0..b999 at a steady rate, each
	// send at its scheduled time (late sends catch up), until stop or
	// 10 minutes, whichever comes first.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bgSent int
	var bgElapsed time.Duration
	if rate > 0 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(3, 4))
			period := time.Second / time.Duration(rate)
			start := time.Now()
			deadline := start.Add(10 * time.Minute)
			for k := 0; ; k++ {
				at := start.Add(time.Duration(k) * period)
				if d := time.Until(at); d > 0 {
					select {
					case <-stop:
						bgSent, bgElapsed = k, time.Since(start)
						return
					case <-time.After(d):
					}
				} else {
					select {
					case <-stop:
						bgSent, bgElapsed = k, time.Since(start)
						return
					default:
					}
				}
				if at.After(deadline) {
					bgSent, bgElapsed = k, time.Since(start)
					return
				}
				cmd := &events.RevokeSessions{CommandMeta: events.CommandMeta{UserID: fmt.Sprintf("b%d", r.IntN(bgUsers)), Actor: "bench"}}
				if _, err := client.Send(ctx, cmd); err != nil {
					b.Error(err)
					bgSent, bgElapsed = k, time.Since(start)
					return
				}
			}
		})
		time.Sleep(200 * time.Millisecond) // let the load reach its steady state
	}
	finish := func() {
		close(stop)
		wg.Wait()
	}

	rtt := make([]time.Duration, 0, max(b.N, 100))
	for range max(b.N, 100) {
		t0 := time.Now()
		if _, err := nc.Request("bench.echo", nil, time.Second); err != nil {
			finish()
			b.Fatal(err)
		}
		rtt = append(rtt, time.Since(t0))
	}

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		user := fmt.Sprintf("p%d", i)
		// A token issued a second ago: allowed now, refused once the
		// revocation has reached the Checker.
		iat := time.Now().Unix() - 1
		if r := checker.Check(user, "", iat); r != revocation.Allowed {
			finish()
			b.Fatalf("user %s refused (%v) before its revocation", user, r)
		}
		t0 := time.Now()
		if _, err := client.Send(ctx, &events.RevokeSessions{CommandMeta: events.CommandMeta{UserID: user, Actor: "bench"}}); err != nil {
			finish()
			b.Fatal(err)
		}
		for checker.Check(user, "", iat) != revocation.ReasonRevoked {
			if time.Since(t0) > 10*time.Second {
				finish()
				b.Fatalf("user %s not refused 10s after RevokeSessions", user)
			}
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	finish()
	q := func(d []time.Duration, p float64) float64 {
		slices.Sort(d)
		return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(q(lat, 0.5), "p50-ms")
	b.ReportMetric(q(lat, 0.99), "p99-ms")
	b.ReportMetric(q(rtt, 0.5), "rtt-p50-ms")
	b.ReportMetric(q(rtt, 0.99), "rtt-p99-ms")
	if rate > 0 {
		b.ReportMetric(float64(bgSent)/bgElapsed.Seconds(), "bg-cmds/s")
	}
}
