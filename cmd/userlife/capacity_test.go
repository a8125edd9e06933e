package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/domain"
	"github.com/userlife/userlife/events"
)

// BenchmarkMillionEvents writes a million events into an embedded server
// (250,000 users, each registered, confirmed, disabled with a reason and
// enabled again: four subjects per user) and reports the JetStream disk
// per event and per million events, and the server's live heap per user
// and per subject once the block caches have expired (heap-) and once the
// duplicate window has passed too (rest-heap-). docs/operations.md
// quotes it. USERLIFE_CAPACITY_USERS changes the number of users.
//
// With USERLIFE_CAPACITY_NATS=URL[,URL...] it writes to that server or
// cluster instead (streams with USERLIFE_CAPACITY_REPLICAS replicas,
// default 3) and reports the append rate and the stream's bytes only: the
// disk and memory of each node are read on the nodes.
func BenchmarkMillionEvents(b *testing.B) {
	if url := os.Getenv("USERLIFE_CAPACITY_NATS"); url != "" {
		benchMillionEventsExternal(b, url)
		return
	}
	users := capacityUsers(b)
	for range b.N {
		data := b.TempDir()
		srv := natstest.ServerWith(b, natsadapter.ServerConfig{DataDir: data})
		_, js := natstest.Connect(b, srv.ClientURL())
		ctx := context.Background()
		if err := natsadapter.Provision(ctx, js, natsadapter.StreamsConfig{}); err != nil {
			b.Fatal(err)
		}
		store, err := natsadapter.NewEventStore(ctx, js)
		if err != nil {
			b.Fatal(err)
		}
		heap0 := liveHeap()
		disk0, err := dirBytes(data)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		seedLifecycles(b, store, users)
		elapsed := time.Since(start)
		time.Sleep(15 * time.Second) // block caches expire after 10s idle
		heap1 := liveHeap()
		// The server remembers every Nats-Msg-Id for the duplicate window
		// (two minutes): what stays after it is the cost of the subjects.
		time.Sleep(2 * time.Minute)
		heap2 := liveHeap()
		disk1, err := dirBytes(data)
		if err != nil {
			b.Fatal(err)
		}
		s, err := js.Stream(ctx, natsadapter.EventsStream)
		if err != nil {
			b.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			b.Fatal(err)
		}
		n := float64(4 * users)
		b.ReportMetric(float64(disk1-disk0)/n, "disk-B/event")
		b.ReportMetric(float64(disk1-disk0)/n*1e6/(1<<20), "disk-MiB/1M-events")
		b.ReportMetric(float64(info.State.Bytes)/n, "stream-B/event")
		b.ReportMetric(float64(heap1-heap0)/float64(users), "heap-B/user")
		b.ReportMetric(float64(heap1-heap0)/n, "heap-B/subject")
		b.ReportMetric(float64(heap2-heap0)/float64(users), "rest-heap-B/user")
		b.ReportMetric(float64(heap2-heap0)/n, "rest-heap-B/subject")
		b.ReportMetric(n/elapsed.Seconds(), "appends/s")
		b.Logf("%d events of %d users in %s; stream %d msgs, %d bytes, %d subjects; data dir %d bytes",
			4*users, users, elapsed.Round(time.Millisecond), info.State.Msgs, info.State.Bytes, info.State.NumSubjects, disk1-disk0)
	}
}

func capacityUsers(b *testing.B) int {
	b.Helper()
	users := 250_000
	if v := os.Getenv("USERLIFE_CAPACITY_USERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("USERLIFE_CAPACITY_USERS=%q: want a positive number", v)
		}
		users = n
	}
	return users
}

func benchMillionEventsExternal(b *testing.B, url string) {
	users := capacityUsers(b)
	replicas := 3
	if v := os.Getenv("USERLIFE_CAPACITY_REPLICAS"); v != "" {
		var err error
		if replicas, err = strconv.Atoi(v); err != nil {
			b.Fatalf("USERLIFE_CAPACITY_REPLICAS=%q: %v", v, err)
		}
	}
	for range b.N {
		_, js := natstest.Connect(b, url)
		ctx := context.Background()
		if err := natsadapter.Provision(ctx, js, natsadapter.StreamsConfig{Replicas: replicas}); err != nil {
			b.Fatal(err)
		}
		store, err := natsadapter.NewEventStore(ctx, js)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		seedLifecycles(b, store, users)
		elapsed := time.Since(start)
		s, err := js.Stream(ctx, natsadapter.EventsStream)
		if err != nil {
			b.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			b.Fatal(err)
		}
		n := float64(4 * users)
		b.ReportMetric(float64(info.State.Bytes)/n, "stream-B/event")
		b.ReportMetric(n/elapsed.Seconds(), "appends/s")
		b.Logf("%d events of %d users in %s on %d replicas; stream %d msgs, %d bytes, %d subjects",
			4*users, users, elapsed.Round(time.Millisecond), info.Config.Replicas, info.State.Msgs, info.State.Bytes, info.State.NumSubjects)
	}
}

// seedLifecycles appends, per user, UserRegistered, UserConfirmed,
// UserDisabled (with a reason) and UserEnabled, each guarded by the user's
// version like the command handler's appends.
func seedLifecycles(b *testing.B, store *natsadapter.EventStore, users int) {
	b.Helper()
	var conflicts atomic.Int64
	defer func() { b.ReportMetric(float64(conflicts.Load()), "spurious-conflicts") }()
	ctx := context.Background()
	now := time.Now()
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Go(func() {
			for u := w; u < users; u += 64 {
				id := uuid.Must(uuid.NewV7()).String()
				payloads := []events.Payload{
					events.UserRegistered{Email: "user-" + id[24:] + "@example.com"},
					events.UserConfirmed{},
					events.UserDisabled{RevokedBefore: now},
					events.UserEnabled{},
				}
				reasons := []string{"self sign-up", "email confirmed", "ticket SEC-1234: suspicious sign-ins", "ticket SEC-1234 resolved"}
				var seq uint64
				for n, p := range payloads {
					e := events.Event{ID: uuid.NewString(), Type: p.EventType(), UserID: id, OccurredAt: now,
						Actor: "admin@example.com", Reason: reasons[n], CommandID: fmt.Sprintf("cap-%d-%d", u, n),
						CorrelationID: uuid.NewString(), Data: p}
					next, err := store.Append(ctx, id, seq, []events.Event{e})
					// Nobody else writes this user, so a conflict is
					// spurious: on a replicated stream the leader can
					// refuse an append that follows the user's previous,
					// acknowledged one very closely. The command handler
					// decides again on a conflict; here the same append is
					// simply retried.
					for try := 0; errors.Is(err, domain.ErrConflict) && try < 10; try++ {
						conflicts.Add(1)
						time.Sleep(time.Millisecond << try)
						next, err = store.Append(ctx, id, seq, []events.Event{e})
					}
					if err != nil {
						b.Error(err)
						return
					}
					seq = next
				}
			}
		})
	}
	wg.Wait()
}
