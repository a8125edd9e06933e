package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
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
// on the same server.
func BenchmarkRevocationPropagation(b *testing.B) {
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
	// A user per iteration: each measurement starts from a user with no
	// revocation, so only the command under test can make Check refuse.
	users := b.N
	for u := range users {
		m := events.CommandMeta{UserID: fmt.Sprintf("p%d", u), Actor: "bench"}
		if _, err := client.Do(ctx, &events.RegisterUser{CommandMeta: m, Email: fmt.Sprintf("p%d@example.com", u)}); err != nil {
			b.Fatal(err)
		}
		if _, err := client.Do(ctx, &events.ConfirmUser{CommandMeta: m}); err != nil {
			b.Fatal(err)
		}
	}
	_, gjs := natstest.Connect(b, app.NATSURL)
	checker := revocation.NewChecker(revocation.Config{})
	w, err := natsadapter.WatchRevocations(ctx, gjs, checker, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()

	// Anchor: core NATS round trip.
	nc := js.Conn()
	sub, err := nc.Subscribe("bench.echo", func(m *nats.Msg) { _ = m.Respond(nil) })
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	rtt := make([]time.Duration, 0, b.N)
	for range max(b.N, 100) {
		t0 := time.Now()
		if _, err := nc.Request("bench.echo", nil, time.Second); err != nil {
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
			b.Fatalf("user %s refused (%v) before its revocation", user, r)
		}
		t0 := time.Now()
		if _, err := client.Send(ctx, &events.RevokeSessions{CommandMeta: events.CommandMeta{UserID: user, Actor: "bench"}}); err != nil {
			b.Fatal(err)
		}
		for checker.Check(user, "", iat) != revocation.ReasonRevoked {
			if time.Since(t0) > 10*time.Second {
				b.Fatalf("user %s not refused 10s after RevokeSessions", user)
			}
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	q := func(d []time.Duration, p float64) float64 {
		slices.Sort(d)
		return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(q(lat, 0.5), "p50-ms")
	b.ReportMetric(q(lat, 0.99), "p99-ms")
	b.ReportMetric(q(rtt, 0.5), "rtt-p50-ms")
	b.ReportMetric(q(rtt, 0.99), "rtt-p99-ms")
}
