package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/userlife/userlife/projections/revocation"
)

// RevocationSink receives the view: revocation.Checker implements it.
type RevocationSink interface {
	Load(entries []revocation.Entry, revision uint64)
	Apply(e revocation.Entry)
	Heartbeat(revision uint64, at time.Time)
}

// RevocationWatcher follows the KV bucket userlife_revocations and the
// heartbeat into a sink: what a gateway runs.
type RevocationWatcher struct {
	mu     sync.Mutex
	kvw    jetstream.KeyWatcher
	hb     *nats.Subscription
	cancel context.CancelFunc
	done   chan struct{}
}

// WatchRevocations loads the snapshot into sink, returns once it is loaded,
// and keeps applying updates and heartbeats until Stop.
func WatchRevocations(ctx context.Context, js jetstream.JetStream, sink RevocationSink, log *slog.Logger) (*RevocationWatcher, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kv, err := js.KeyValue(ctx, RevocationsBucket)
	if err != nil {
		return nil, fmt.Errorf("open KV bucket %s: %w", RevocationsBucket, err)
	}
	hb, err := js.Conn().Subscribe(HeartbeatSubject, func(m *nats.Msg) {
		var h Heartbeat
		if json.Unmarshal(m.Data, &h) == nil {
			// The local receive time, not the sender's clock: a service
			// whose clock runs behind must not make the view look stale.
			sink.Heartbeat(h.Revision, time.Now())
		}
	})
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	kvw, err := kv.WatchAll(wctx)
	if err != nil {
		cancel()
		_ = hb.Unsubscribe()
		return nil, fmt.Errorf("watch %s: %w", RevocationsBucket, err)
	}
	w := &RevocationWatcher{kvw: kvw, hb: hb, cancel: cancel, done: make(chan struct{})}
	decode := func(e jetstream.KeyValueEntry) (revocation.Entry, bool) {
		if e.Operation() != jetstream.KeyValuePut {
			log.Warn("revocation view: entry ignored", "key", e.Key(), "op", e.Operation().String())
			return revocation.Entry{}, false
		}
		r, err := decodeEntry(e.Key(), e.Value())
		if err != nil {
			// Not written by the service (docs/security.md): fail closed.
			// Revision 0 loses to the entry a running watcher already
			// holds; a watcher starting now refuses the user's tokens until
			// the service writes the entry again.
			log.Error("revocation view: invalid entry; refusing the user's tokens", "key", e.Key(), "err", err)
			return revocation.Entry{UserID: e.Key(), State: revocation.StateDisabled}, true
		}
		return r, true
	}
	var snapshot []revocation.Entry
	var rev uint64
	for loaded := false; !loaded; {
		select {
		case <-ctx.Done():
			w.Stop()
			return nil, ctx.Err()
		case e, ok := <-kvw.Updates():
			if !ok {
				w.Stop()
				return nil, fmt.Errorf("watch %s: closed before the snapshot was loaded", RevocationsBucket)
			}
			if e == nil { // end of the initial values
				loaded = true
				break
			}
			if r, ok := decode(e); ok {
				snapshot = append(snapshot, r)
				rev = max(rev, r.Revision)
			}
		}
	}
	sink.Load(snapshot, rev)
	go w.follow(wctx, kv, js.Conn(), kvw, decode, sink, log)
	return w, nil
}

// rewatchCheck is how often the watcher looks for a reconnect.
const rewatchCheck = 50 * time.Millisecond

// follow applies updates until ctx ends. After the connection reconnects it
// watches the bucket afresh: the watch's server-side consumer may have gone
// with the server, and nats.go would notice only after missing its idle
// heartbeats (up to ~20 s), while the service heartbeat, a plain
// subscription, would already say the view is fresh. The new watch's
// initial values replay every entry; older revisions are ignored by Apply.
func (w *RevocationWatcher) follow(ctx context.Context, kv jetstream.KeyValue, nc *nats.Conn, kvw jetstream.KeyWatcher,
	decode func(jetstream.KeyValueEntry) (revocation.Entry, bool), sink RevocationSink, log *slog.Logger) {
	defer close(w.done)
	reconnects := nc.Stats().Reconnects
	tick := time.NewTicker(rewatchCheck)
	defer tick.Stop()
	updates := kvw.Updates()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-updates:
			if !ok {
				kvw, updates = nil, nil // closed: the next tick watches again
				continue
			}
			if e == nil {
				continue
			}
			if r, ok := decode(e); ok {
				sink.Apply(r)
			}
		case <-tick.C:
			n := nc.Stats().Reconnects
			if n == reconnects && kvw != nil {
				continue
			}
			if !nc.IsConnected() {
				continue
			}
			if kvw != nil {
				_ = kvw.Stop()
			}
			next, err := kv.WatchAll(ctx)
			if err != nil {
				log.Warn("revocation view: watching again after a reconnect failed; retrying", "err", err)
				kvw, updates = nil, nil
				continue
			}
			log.Info("revocation view: watching again after a reconnect")
			reconnects, kvw, updates = n, next, next.Updates()
			w.mu.Lock()
			w.kvw = next
			w.mu.Unlock()
		}
	}
}

// Stop ends the watch.
func (w *RevocationWatcher) Stop() {
	w.cancel()
	w.mu.Lock()
	if w.kvw != nil {
		_ = w.kvw.Stop()
	}
	w.mu.Unlock()
	_ = w.hb.Unsubscribe()
}
