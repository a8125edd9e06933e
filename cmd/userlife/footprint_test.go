package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
)

// BenchmarkServerFootprint measures what users cost the NATS server: it
// runs `userlife serve` as its own process, appends 100,000 users with
// UserRegistered + UserConfirmed (two subjects each) and reports the
// growth of the process's resident memory per user and per subject, and
// the JetStream disk per event.
//
// The live heap of an embedded server, after the message caches expired
// and a GC, is reported too: that is what subjects cost, without the Go
// heap's slack and the block caches that RSS includes.
func BenchmarkServerFootprint(b *testing.B) {
	b.Run("process", benchFootprintProcess)
	b.Run("embedded-live-heap", benchFootprintHeap)
}

const footprintUsers = 100_000

// seedUsers appends users × (UserRegistered, UserConfirmed).
func seedUsers(b *testing.B, store *natsadapter.EventStore, users int) {
	b.Helper()
	ctx := context.Background()
	now := time.Now()
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			for u := w; u < users; u += 32 {
				id := uuid.Must(uuid.NewV7()).String()
				mk := func(n int, p events.Payload) events.Event {
					return events.Event{ID: uuid.NewString(), Type: p.EventType(), UserID: id, OccurredAt: now,
						Actor: "admin@example.com", Reason: "footprint", CommandID: fmt.Sprintf("fp-%d-%d", u, n), Data: p}
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
}

func benchFootprintHeap(b *testing.B) {
	const users = footprintUsers
	for range b.N {
		srv := natstest.ServerWith(b, natsadapter.ServerConfig{})
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
		seedUsers(b, store, users)
		time.Sleep(15 * time.Second) // block caches expire after 10s idle
		heap1 := liveHeap()
		b.ReportMetric(float64(heap1-heap0)/users, "heap-B/user")
		b.ReportMetric(float64(heap1-heap0)/(2*users), "heap-B/subject")
	}
}

func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

func benchFootprintProcess(b *testing.B) {
	const users = footprintUsers
	for range b.N {
		data := b.TempDir()
		addr := freeAddr(b)
		serve := startServe(b, "--data", data, "--nats-listen", addr)
		_, js := natstest.Connect(b, "nats://"+addr)
		ctx := context.Background()
		store, err := natsadapter.NewEventStore(ctx, js)
		if err != nil {
			b.Fatal(err)
		}
		time.Sleep(time.Second)
		rss0 := rssBytes(b, serve.cmd.Process.Pid)
		disk0 := dirBytes(b, data)
		seedUsers(b, store, users)
		time.Sleep(2 * time.Second) // let the server settle (GC, flush)
		rss1 := rssBytes(b, serve.cmd.Process.Pid)
		disk1 := dirBytes(b, data)
		b.ReportMetric(float64(rss1-rss0)/users, "rss-B/user")
		b.ReportMetric(float64(rss1-rss0)/(2*users), "rss-B/subject")
		b.ReportMetric(float64(disk1-disk0)/(2*users), "disk-B/event")
		b.ReportMetric(float64(rss1)/(1<<20), "rss-MiB")
	}
}

func rssBytes(b *testing.B, pid int) int64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

func dirBytes(b *testing.B, dir string) int64 {
	b.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
