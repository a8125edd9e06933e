package nats_test

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
)

// benchUsers is how many users the publish benchmarks spread their writes over.
const benchUsers = 10_000

// reportLatency reports the median and 99th percentile of durations.
func reportLatency(b *testing.B, durations []time.Duration) {
	b.Helper()
	if len(durations) == 0 {
		return
	}
	slices.Sort(durations)
	at := func(q float64) float64 {
		i := int(q * float64(len(durations)-1))
		return float64(durations[i].Nanoseconds()) / 1e3
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

// BenchmarkLoadUser loads a user with 20 events through the event store
// (direct batch get), among other users' events.
func BenchmarkLoadUser(b *testing.B) {
	e := newEnv(b)
	ctx := testContext(b)
	const user, history = "u-bench", 20
	var version uint64
	other := map[string]uint64{}
	for i := range history {
		ev := revoked(user, fmt.Sprintf("c-%d", i), i)
		if i == 0 {
			ev = registered(user, "c-0", "bench@x.com")
		}
		version = appendOK(b, e.store, user, version, ev)
		o := fmt.Sprintf("u-other-%d", i%4)
		other[o] = appendOK(b, e.store, o, other[o], revoked(o, fmt.Sprintf("c-%s-%d", o, i), i))
	}

	durations := make([]time.Duration, 0, 4096)
	for b.Loop() {
		start := time.Now()
		evs, err := e.store.Load(ctx, user)
		durations = append(durations, time.Since(start))
		if err != nil {
			b.Fatalf("Load: %v", err)
		}
		if len(evs) != history {
			b.Fatalf("Load = %d events, want %d", len(evs), history)
		}
	}
	reportLatency(b, durations)
}

// BenchmarkRawPublishExpectedSubjSeq is the substrate under Append: a
// synchronous JetStream publish with the optimistic-concurrency headers,
// no adapter code. Each goroutine owns a share of the users (never two
// appends in flight for one user) and tracks their last sequence.
//
// sync=always is the embedded server with --sync-always (fsync per write).
func BenchmarkRawPublishExpectedSubjSeq(b *testing.B) {
	for _, syncAlways := range []bool{false, true} {
		for _, inflight := range []int{1, 64} {
			name := fmt.Sprintf("sync=%s/inflight=%d", syncName(syncAlways), inflight)
			b.Run(name, func(b *testing.B) { benchRawPublish(b, syncAlways, inflight) })
		}
	}
}

func syncName(always bool) string {
	if always {
		return "always"
	}
	return "interval"
}

func benchRawPublish(b *testing.B, syncAlways bool, inflight int) {
	{
		{
			_, js := natstest.ProvisionedWith(b, natsadapter.ServerConfig{SyncAlways: syncAlways}) // the real USERLIFE_EVENTS stream
			body := []byte(`{"id":"0190d6a2-5b7e-7c1a-9f43-1a2b3c4d5e6f","type":"SessionsRevoked","user_id":"USER",` +
				`"occurred_at":"2026-03-14T15:09:26.535897932Z","actor":"admin@example.com","command_id":"CMD",` +
				`"data":{"revoked_before":"2026-03-14T15:09:26.535897932Z"}}`)
			runPublishers(b, inflight, func(user string, last uint64, _ int) (uint64, error) {
				msg := nats.NewMsg(events.EventSubject(user, events.TypeSessionsRevoked))
				msg.Data = body
				msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(last, 10))
				msg.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, events.UserEventsFilter(user))
				ack, err := js.PublishMsg(b.Context(), msg)
				if err != nil {
					return 0, err
				}
				return ack.Sequence, nil
			})
		}
	}
}

// BenchmarkEventStoreAppend is the same workload through EventStore.Append
// (encoding, CloudEvents headers, Nats-Msg-Id), for comparison with the raw
// publish in the same run.
func BenchmarkEventStoreAppend(b *testing.B) {
	for _, inflight := range []int{1, 64} {
		b.Run("inflight="+strconv.Itoa(inflight), func(b *testing.B) {
			e := newEnv(b)
			runPublishers(b, inflight, func(user string, last uint64, op int) (uint64, error) {
				ev := revoked(user, "c-"+strconv.Itoa(op), op)
				return e.store.Append(b.Context(), user, last, []events.Event{ev})
			})
		})
	}
}

// runPublishers runs b.N appends on inflight goroutines. Goroutine g owns
// the users whose index is g modulo inflight, writes to them round-robin and
// passes each user's last sequence as the expected one. It reports msgs/s
// and the latency of one append.
func runPublishers(b *testing.B, inflight int, publish func(user string, last uint64, op int) (uint64, error)) {
	b.Helper()
	var (
		next      atomic.Int64
		wg        sync.WaitGroup
		failed    atomic.Bool
		latencies = make([][]time.Duration, inflight)
	)
	b.ResetTimer()
	start := time.Now()
	for g := range inflight {
		wg.Go(func() {
			var users []string
			for u := g; u < benchUsers; u += inflight {
				users = append(users, fmt.Sprintf("u-%05d", u))
			}
			last := make([]uint64, len(users))
			lat := make([]time.Duration, 0, b.N/inflight+1)
			for k := 0; ; k++ {
				op := int(next.Add(1)) - 1
				if op >= b.N || failed.Load() {
					break
				}
				i := k % len(users)
				t0 := time.Now()
				seq, err := publish(users[i], last[i], op)
				lat = append(lat, time.Since(t0))
				if err != nil {
					failed.Store(true)
					b.Errorf("publish to %s expecting %d: %v", users[i], last[i], err)
					break
				}
				last[i] = seq
			}
			latencies[g] = lat
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	reportLatency(b, slices.Concat(latencies...))
}
