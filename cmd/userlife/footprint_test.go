package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
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
	ids := make([]string, users)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7()).String()
	}
	if err := seedConfirmed(context.Background(), store, ids, 32); err != nil {
		b.Fatal(err)
	}
}

// benchFootprintHeap is the measurement `userlife bench` makes: the live
// heap and disk of an embedded server, next to the same messages on one
// subject.
func benchFootprintHeap(b *testing.B) {
	for range b.N {
		fp, err := measureFootprint(context.Background(), b.TempDir(), footprintUsers, 15*time.Second, // block caches expire after 10s idle
			func(string, ...any) {})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(fp.HeapBytes)/footprintUsers, "heap-B/user")
		b.ReportMetric(float64(fp.HeapBytes)/(2*footprintUsers), "heap-B/subject")
		b.ReportMetric(float64(fp.MessageBytes)/footprintUsers, "message-B/user")
		b.ReportMetric(float64(fp.DiskBytes)/(2*footprintUsers), "disk-B/event")
	}
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
		disk0 := mustDirBytes(b, data)
		seedUsers(b, store, users)
		time.Sleep(2 * time.Second) // let the server settle (GC, flush)
		rss1 := rssBytes(b, serve.cmd.Process.Pid)
		disk1 := mustDirBytes(b, data)
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

func mustDirBytes(b *testing.B, dir string) int64 {
	b.Helper()
	n, err := dirBytes(dir)
	if err != nil {
		b.Fatal(err)
	}
	return n
}
