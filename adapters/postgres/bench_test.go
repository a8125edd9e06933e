package postgres_test

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/userlife/userlife/adapters/postgres"
	"github.com/userlife/userlife/projections"
)

var replayEvents = flag.Int("replay.events", 1_000_000, "messages BenchmarkReplay1M and BenchmarkRawCopyFrom write")

// benchStream is the benchmarks' stream: -replay.events messages of
// lifecycles over a fifth as many users, generated once per process.
var benchStream = sync.OnceValue(func() []projections.Message {
	return lifecycles(7, *replayEvents, *replayEvents/5)
})

// BenchmarkReplay1M replays the whole stream into both projections of a
// fresh database in batches, the two projections side by side as their
// projectors run: "live" applies to the live tables, "rebuild" fills the
// shadow tables of Rebuild and swaps them in (userlife replay).
func BenchmarkReplay1M(b *testing.B) {
	msgs := benchStream()
	for _, mode := range []string{"live", "rebuild"} {
		for _, size := range []int{1000, 5000} {
			b.Run(fmt.Sprintf("%s/batch=%d", mode, size), func(b *testing.B) {
				var elapsed time.Duration
				for range b.N {
					s := open(b, migrated(b))
					start := time.Now()
					replay(b, s, mode, msgs, size)
					elapsed += time.Since(start)
				}
				b.ReportMetric(float64(b.N*len(msgs))/elapsed.Seconds(), "events/s")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

func replay(b *testing.B, s *postgres.Store, mode string, msgs []projections.Message, size int) {
	ctx := context.Background()
	apply := func(p projections.Projection) error {
		for _, batch := range batches(msgs, size) {
			if err := p.Apply(ctx, batch); err != nil {
				return err
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	for _, p := range []projections.Projection{s.Users(), s.Audit()} {
		wg.Go(func() {
			var err error
			if mode == "live" {
				err = apply(p)
			} else {
				err = s.Rebuild(ctx, p.Name(), func(ctx context.Context, shadow projections.Projection) error { return apply(shadow) })
			}
			if err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
}

// BenchmarkRawCopyFrom is the yardstick: the stream's audit rows written by
// one COPY into audit_events of a fresh database, with no projection logic,
// transaction bookkeeping or second table.
func BenchmarkRawCopyFrom(b *testing.B) {
	msgs := benchStream()
	rows := make([][]any, len(msgs))
	for i, m := range msgs {
		a, err := projections.ReduceAuditMessage(m)
		if err != nil {
			b.Fatal(err)
		}
		rows[i] = []any{int64(m.Seq), a.EventID, string(a.Type), a.UserID, a.Actor, a.Reason, a.CommandID, a.CorrelationID, a.OccurredAt, []byte(a.Data)}
	}
	cols := []string{"seq", "event_id", "type", "user_id", "actor", "reason", "command_id", "correlation_id", "occurred_at", "data"}
	var elapsed time.Duration
	for range b.N {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, migrated(b))
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"audit_events"}, cols, pgx.CopyFromRows(rows)); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		conn.Close(ctx)
	}
	b.ReportMetric(float64(b.N*len(rows))/elapsed.Seconds(), "rows/s")
	b.ReportMetric(0, "ns/op")
}
