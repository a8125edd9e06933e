package main

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
)

// footprint is what users cost an embedded NATS server: its live heap
// next to the bytes of the users' messages, its disk next to the same
// messages stored on a single subject (no per-subject state).
type footprint struct {
	Users                   int
	HeapBytes               int64 // live heap growth
	MessageBytes            int64 // subjects and payloads of the users' messages
	DiskBytes, RawDiskBytes int64 // stream directory size
}

// footprintRawStream holds the anchor's messages.
const footprintRawStream = "USERLIFE_BENCH_FOOTPRINT_RAW"

// measureFootprint starts an embedded server on dir (nothing else may
// allocate in this process meanwhile), appends users × (UserRegistered,
// UserConfirmed) through the event store, and measures the growth of the
// live heap (after a GC, once settle has let the block caches expire) and
// of the stream's directory. Then, as the anchors, it stores as many
// messages of the same sizes on one subject of another stream and counts
// their bytes. (The live heap of that stream is not an anchor: with no
// per-subject state it holds next to nothing once its caches expire, and
// the difference drowns in the heap's noise.)
func measureFootprint(ctx context.Context, dir string, users int, settle time.Duration, progress func(string, ...any)) (footprint, error) {
	fp := footprint{Users: users}
	srv, err := natsadapter.StartServer(natsadapter.ServerConfig{Listen: "127.0.0.1:0", DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fp, err
	}
	defer srv.Shutdown()
	nc, err := natsadapter.Connect(srv.ClientURL(), "userlife-bench-footprint", slog.New(slog.DiscardHandler))
	if err != nil {
		return fp, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fp, err
	}
	if err := natsadapter.Provision(ctx, js, natsadapter.StreamsConfig{}); err != nil {
		return fp, err
	}
	store, err := natsadapter.NewEventStore(ctx, js)
	if err != nil {
		return fp, err
	}
	streams := filepath.Join(dir, "jetstream", "$G", "streams")
	heap0 := liveHeap()
	ids := make([]string, users)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7()).String()
	}
	if err := seedConfirmed(ctx, store, ids, 32); err != nil {
		return fp, err
	}
	progress("footprint: %d users appended; waiting %s for the server's caches to expire", users, settle)
	if err := sleep(ctx, settle); err != nil {
		return fp, err
	}
	ids = nil
	fp.HeapBytes = liveHeap() - heap0
	if fp.DiskBytes, err = dirBytes(filepath.Join(streams, natsadapter.EventsStream)); err != nil {
		return fp, err
	}

	// Anchor: the same number of messages, as big, on one subject.
	cfg := jetstream.StreamConfig{Name: footprintRawStream, Subjects: []string{"userlife_bench_footprint"}, Storage: jetstream.FileStorage}
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		return fp, err
	}
	if fp.MessageBytes, err = publishFootprintAnchor(ctx, js, users); err != nil {
		return fp, err
	}
	fp.RawDiskBytes, err = dirBytes(filepath.Join(streams, footprintRawStream))
	return fp, err
}

// publishFootprintAnchor stores users × 2 envelopes like the seeded ones on
// one subject and returns their size as the event store writes them
// (payload and per-user subject).
func publishFootprintAnchor(ctx context.Context, js jetstream.JetStream, users int) (int64, error) {
	now := time.Now()
	var size int64
	for u := range users {
		id := uuid.Must(uuid.NewV7()).String()
		for n, p := range []events.Payload{events.UserRegistered{Email: id + "@example.com"}, events.UserConfirmed{}} {
			data, err := events.Encode(events.Event{ID: uuid.NewString(), Type: p.EventType(), UserID: id, OccurredAt: now,
				Actor: "admin@example.com", Reason: "bench", CommandID: fmt.Sprintf("seed-%s-%d", id, n), Data: p})
			if err != nil {
				return 0, err
			}
			size += int64(len(data) + len(events.EventSubject(id, p.EventType())))
			if _, err := js.PublishAsync("userlife_bench_footprint", data); err != nil {
				return 0, err
			}
		}
		if u%500 == 499 {
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
		return size, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

func dirBytes(dir string) (int64, error) {
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
	return n, err
}
