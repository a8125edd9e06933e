package nats_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// benchKey is the data key of every benchmark user.
var benchKey = make([]byte, events.DataKeySize)

// lives makes n events: users registered, confirmed, revoked, disabled and
// enabled in five rounds over every user (so a user's five events are far
// apart in the stream), occurred_at now, the email sealed, as the service
// writes them.
func lives(n int) []events.Event {
	users := n / 5
	at := time.Now().UTC()
	steps := []func(int) events.Payload{
		func(u int) events.Payload {
			sealed, err := events.SealField(benchKey, fmt.Sprintf("user-%d", u), "email", fmt.Sprintf("user%d@example.com", u))
			if err != nil {
				panic(err)
			}
			return events.UserRegistered{EmailSealed: sealed}
		},
		func(int) events.Payload { return events.UserConfirmed{} },
		func(int) events.Payload { return events.SessionsRevoked{RevokedBefore: at} },
		func(int) events.Payload { return events.UserDisabled{RevokedBefore: at} },
		func(int) events.Payload { return events.UserEnabled{} },
	}
	out := make([]events.Event, 0, n)
	for step, p := range steps {
		for u := range users {
			d := p(u)
			out = append(out, events.Event{ID: fmt.Sprintf("ev-%d-%d", step, u), Type: d.EventType(), UserID: fmt.Sprintf("user-%d", u),
				OccurredAt: at, Actor: "loader", Reason: "bench", CommandID: fmt.Sprintf("c-%d-%d", u, step), Data: d})
		}
	}
	return out
}

// rawOrderedRead is the anchor: an ordered consumer reading n messages, no
// metadata, no decoding (as the replay benchmarks measure it).
func rawOrderedRead(b *testing.B, js jetstream.JetStream, n int) float64 {
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

// BenchmarkAudit runs on one stream of USERLIFE_BENCH_EVENTS events:
// full-scan reads every event through AuditLog.Scan (records: metadata,
// subject, the client-side checks) and AuditLog.Audit (audit rows: the
// envelope read, the sealed emails opened with a snapshot of the data
// keys), three times each, taking turns with a raw
// ordered-consumer read, and reports the medians; user-history is one
// random user's history (5 events) through AuditLog.Audit, next to a
// single direct get.
func BenchmarkAudit(b *testing.B) {
	n := natstest.BenchEvents(b)
	_, js := natstest.Provisioned(b)
	seeded := time.Now()
	natstest.PublishEvents(b, js, lives(n))
	for u := range n / 5 { // every user's data key, as the key vault stores it
		if _, err := js.PublishAsync(natsadapter.KeysSubject(fmt.Sprintf("user-%d", u)), benchKey); err != nil {
			b.Fatal(err)
		}
		if u%1000 == 999 {
			natstest.WaitPublished(b, js)
		}
	}
	natstest.WaitPublished(b, js)
	b.Logf("seeded %d events and %d data keys in %s", n, n/5, time.Since(seeded).Round(time.Millisecond))
	l := natsadapter.NewAuditLog(js, natsadapter.AuditConfig{})
	ctx := context.Background()

	b.Run("full-scan", func(b *testing.B) {
		scan := func() {
			count := 0
			if err := l.Scan(ctx, projections.AuditQuery{}, func(natsadapter.Record) error { count++; return nil }); err != nil {
				b.Fatal(err)
			}
			if count != n {
				b.Fatalf("scanned %d records, want %d", count, n)
			}
		}
		rows := func() {
			count := 0
			if err := l.Audit(ctx, projections.AuditQuery{}, func(projections.AuditEvent) error { count++; return nil }); err != nil {
				b.Fatal(err)
			}
			if count != n {
				b.Fatalf("audited %d rows, want %d", count, n)
			}
		}
		raw := func() { rawOrderedRead(b, js, n) }
		raw() // warm the server's block cache
		for range b.N {
			// The three readings take turns in a different order each
			// round, so warming and the machine's noise favour none. Each
			// is measured in wall-clock events/s and in CPU time of the
			// whole process (server included) per event: on a shared
			// machine the CPU time is what the reading costs, the rate
			// is what it got.
			var m [3]readings
			fns := [3]func(){raw, scan, rows}
			for round := range 3 {
				for k := range 3 {
					i := (round + k) % 3
					m[i].measure(n, fns[i])
				}
			}
			r, sc, au := m[0], m[1], m[2]
			b.ReportMetric(median(r.rates), "raw-read/s")
			b.ReportMetric(median(sc.rates), "scan/s")
			b.ReportMetric(median(au.rates), "audit-rows/s")
			b.ReportMetric(100*median(sc.rates)/median(r.rates), "scan-%-of-raw")
			b.ReportMetric(100*median(au.rates)/median(r.rates), "rows-%-of-raw")
			b.ReportMetric(median(r.cpu), "raw-cpu-µs/event")
			b.ReportMetric(median(sc.cpu), "scan-cpu-µs/event")
			b.ReportMetric(median(au.cpu), "rows-cpu-µs/event")
			b.ReportMetric(100*median(r.cpu)/median(sc.cpu), "scan-%-of-raw-by-cpu")
			b.ReportMetric(100*median(r.cpu)/median(au.cpu), "rows-%-of-raw-by-cpu")
			b.Logf("events/s each round: raw %v, scan %v, rows %v", ints(r.rates), ints(sc.rates), ints(au.rates))
			b.Logf("CPU µs/event each round: raw %.2f, scan %.2f, rows %.2f", r.cpu, sc.cpu, au.cpu)
		}
	})

	b.Run("user-history", func(b *testing.B) {
		stream, err := js.Stream(ctx, natsadapter.EventsStream)
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		durations := make([]time.Duration, 0, 4096)
		raw := make([]time.Duration, 0, 4096)
		for b.Loop() {
			q := projections.AuditQuery{UserID: fmt.Sprintf("user-%d", rng.IntN(n/5))}
			start := time.Now()
			rows := 0
			err := l.Audit(ctx, q, func(projections.AuditEvent) error { rows++; return nil })
			durations = append(durations, time.Since(start))
			if err != nil || rows != 5 {
				b.Fatalf("history of %s: %d rows, %v", q.UserID, rows, err)
			}
			// The anchor: one direct get of one stored message, the
			// smallest request the server answers.
			start = time.Now()
			if _, err := stream.GetLastMsgForSubject(ctx, events.EventSubject(q.UserID, events.TypeUserRegistered)); err != nil {
				b.Fatal(err)
			}
			raw = append(raw, time.Since(start))
		}
		reportLatency(b, durations)
		slices.Sort(raw)
		b.ReportMetric(float64(raw[len(raw)/2].Microseconds()), "raw-get-p50-µs")
		b.ReportMetric(float64(raw[(len(raw)-1)*99/100].Microseconds()), "raw-get-p99-µs")
	})
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func ints(xs []float64) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(x)
	}
	return out
}

// readings are one kind of reading's measurements.
type readings struct{ rates, cpu []float64 }

// measure runs read (which reads n events) and records its rate and the
// process's CPU time per event.
func (m *readings) measure(n int, read func()) {
	cpu0 := cpuTime()
	start := time.Now()
	read()
	wall := time.Since(start)
	m.rates = append(m.rates, float64(n)/wall.Seconds())
	m.cpu = append(m.cpu, float64((cpuTime()-cpu0).Nanoseconds())/1e3/float64(n))
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
