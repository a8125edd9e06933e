package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
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
		var r revocation.Entry
		if e.Operation() != jetstream.KeyValuePut || json.Unmarshal(e.Value(), &r) != nil {
			log.Warn("revocation view: entry ignored", "key", e.Key(), "op", e.Operation().String())
			return r, false
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
	go func() {
		defer close(w.done)
		for e := range kvw.Updates() {
			if e == nil {
				continue
			}
			if r, ok := decode(e); ok {
				sink.Apply(r)
			}
		}
	}()
	return w, nil
}

// Stop ends the watch.
func (w *RevocationWatcher) Stop() {
	w.cancel()
	_ = w.kvw.Stop()
	_ = w.hb.Unsubscribe()
}
