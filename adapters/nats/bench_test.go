package nats_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natsbench"
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
	_, js := natstest.ProvisionedWith(b, natsadapter.ServerConfig{SyncAlways: syncAlways}) // the real USERLIFE_EVENTS stream
	b.ResetTimer()
	r, err := natsbench.RawPublish(b.Context(), js, "", natsbench.Load{InFlight: inflight, Count: b.N}, benchUsers)
	report(b, r, err)
}

// BenchmarkEventStoreAppend is the same workload through EventStore.Append
// (encoding, CloudEvents headers, Nats-Msg-Id), for comparison with the raw
// publish in the same run.
func BenchmarkEventStoreAppend(b *testing.B) {
	for _, inflight := range []int{1, 64} {
		b.Run("inflight="+strconv.Itoa(inflight), func(b *testing.B) {
			e := newEnv(b)
			b.ResetTimer()
			r, err := natsbench.RunPublishers(b.Context(), natsbench.Load{InFlight: inflight, Count: b.N}, benchUsers,
				func(ctx context.Context, user string, last uint64, op int) (uint64, error) {
					ev := revoked(user, "c-"+strconv.Itoa(op), op)
					return e.store.Append(ctx, user, last, []events.Event{ev})
				})
			report(b, r, err)
		})
	}
}

// report reports msgs/s and the latency of one operation.
func report(b *testing.B, r natsbench.Result, err error) {
	b.Helper()
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.Rate(), "msgs/s")
	reportLatency(b, r.Latencies)
}
