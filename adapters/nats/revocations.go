package nats

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/userlife/userlife/projections"
	"github.com/userlife/userlife/projections/revocation"
)

// The revocation view lives in NATS so that gateways in any language can
// watch it: one KV entry per user that has a revocation state, plus a
// heartbeat that says how current the view is.
const (
	RevocationsBucket = "userlife_revocations"
	// CheckpointsBucket holds the checkpoints of projections kept in NATS,
	// apart from the view so that watchers see user entries only.
	CheckpointsBucket = "userlife_checkpoints"
	// RevocationsProjection names the view's projection and checkpoint.
	RevocationsProjection = "revocations"
	// HeartbeatSubject carries {"revision":N,"at":T} every HeartbeatEvery.
	HeartbeatSubject = "userlife.revocations.heartbeat"
	HeartbeatEvery   = time.Second
)

// Heartbeat is the message on HeartbeatSubject.
type Heartbeat struct {
	Revision uint64    `json:"revision"`
	At       time.Time `json:"at"`
}

// RevocationView is the projection that keeps the KV bucket current. It
// keeps the entries it has written in memory (reading an entry from the
// bucket on a miss), so applying a batch costs one publish per changed
// user and one for the checkpoint.
type RevocationView struct {
	js jetstream.JetStream
	// pub writes the entries asynchronously. Its writes time out: an ack
	// lost with a server (a cluster node killed after taking the write)
	// would otherwise leave Apply waiting forever and the view stuck.
	pub         jetstream.JetStream
	kv          jetstream.KeyValue
	checkpoints jetstream.KeyValue
	events      *EventStore // rebuilds an entry the bucket holds in a bad shape
	log         *slog.Logger

	mu      sync.Mutex
	entries map[string]*revocation.Entry
	// position is the committed checkpoint, read by heartbeats.
	position uint64
}

var _ projections.Projection = (*RevocationView)(nil)

// NewRevocationView binds to the provisioned buckets.
func NewRevocationView(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*RevocationView, error) {
	kv, err := js.KeyValue(ctx, RevocationsBucket)
	if err != nil {
		return nil, fmt.Errorf("open KV bucket %s: %w", RevocationsBucket, err)
	}
	cps, err := js.KeyValue(ctx, CheckpointsBucket)
	if err != nil {
		return nil, fmt.Errorf("open KV bucket %s: %w", CheckpointsBucket, err)
	}
	store, err := NewEventStore(ctx, js)
	if err != nil {
		return nil, err
	}
	pub, err := jetstream.New(js.Conn(), jetstream.WithPublishAsyncTimeout(EntryAckTimeout))
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &RevocationView{js: js, pub: pub, kv: kv, checkpoints: cps, events: store, log: log, entries: make(map[string]*revocation.Entry)}, nil
}

// EntryAckTimeout bounds the wait for the acknowledgement of one entry
// write; a batch with an entry not acknowledged in time fails and is
// applied again.
const EntryAckTimeout = 5 * time.Second

// Name is the projection's name.
func (v *RevocationView) Name() string { return RevocationsProjection }

// Checkpoint is the last sequence folded into the bucket.
func (v *RevocationView) Checkpoint(ctx context.Context) (uint64, error) {
	e, err := v.checkpoints.Get(ctx, RevocationsProjection)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	cp, err := strconv.ParseUint(string(e.Value()), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("checkpoint %q: %w", e.Value(), err)
	}
	v.mu.Lock()
	v.position = max(v.position, cp)
	v.mu.Unlock()
	return cp, nil
}

// Position is the last checkpoint this process committed or read.
func (v *RevocationView) Position() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.position
}

// Apply folds the batch and writes each changed entry, then the checkpoint.
// The writes are not one transaction: a crash between them leaves entries
// ahead of the checkpoint, and the batch is applied again; each entry
// carries the revision it reflects, so folding an event twice is a no-op.
//
// The checkpoint is read from the bucket once; after that this process's
// own position is used. Another serve applying the same view meanwhile
// only makes this one write entries again with the same content.
func (v *RevocationView) Apply(ctx context.Context, b projections.Batch) error {
	cp := v.Position()
	if cp == 0 {
		var err error
		if cp, err = v.Checkpoint(ctx); err != nil {
			return err
		}
	}
	rest, err := b.After(cp)
	if err != nil || len(rest) == 0 {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	changed := map[string]*revocation.Entry{}
	for _, m := range rest {
		if m.Err != nil {
			v.log.Warn("revocation view: event skipped", "stream_seq", m.Seq, "subject", m.Subject, "err", m.Err)
			continue
		}
		id := m.Event.UserID
		cur, ok := changed[id]
		if !ok {
			if cur, err = v.entry(ctx, id); err != nil {
				return err
			}
		}
		next, err := revocation.Reduce(cur, m.Event)
		if err != nil {
			v.log.Warn("revocation view: event skipped", "stream_seq", m.Seq, "user_id", id, "err", err)
			continue
		}
		changed[id] = next
	}
	acks := make([]jetstream.PubAckFuture, 0, len(changed))
	for id, e := range changed {
		data, err := json.Marshal(e)
		if err != nil {
			return err
		}
		f, err := v.pub.PublishAsync("$KV."+RevocationsBucket+"."+id, data)
		if err != nil {
			return fmt.Errorf("put revocation entry %s: %w", id, err)
		}
		acks = append(acks, f)
	}
	for _, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("put revocation entry: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if _, err := v.checkpoints.Put(ctx, RevocationsProjection, []byte(strconv.FormatUint(rest.Last(), 10))); err != nil {
		return fmt.Errorf("put checkpoint: %w", err)
	}
	for id, e := range changed {
		v.entries[id] = e
	}
	v.position = rest.Last()
	return nil
}

// entry is the user's current entry: from memory, else from the bucket.
func (v *RevocationView) entry(ctx context.Context, id string) (*revocation.Entry, error) {
	if e, ok := v.entries[id]; ok {
		return e, nil
	}
	kve, err := v.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get revocation entry %s: %w", id, err)
	}
	e, err := decodeEntry(id, kve.Value())
	if err == nil {
		return &e, nil
	}
	// Not an entry this view wrote: any client allowed a JetStream request
	// can have the server deliver its reply onto the bucket's subject (see
	// docs/security.md). Folding events onto it would carry the forgery
	// on; the user's history says what the entry must be.
	v.log.Error("revocation view: stored entry is not valid; rebuilding it from the user's events", "user_id", id, "err", err)
	evs, lerr := v.events.Load(ctx, id)
	if lerr != nil {
		return nil, fmt.Errorf("rebuild revocation entry %s: %w", id, lerr)
	}
	var cur *revocation.Entry
	for _, ev := range evs {
		if IsForeign(ev) {
			continue
		}
		if cur, err = revocation.Reduce(cur, ev); err != nil {
			return nil, fmt.Errorf("rebuild revocation entry %s: %w", id, err)
		}
	}
	return cur, nil
}

// decodeEntry reads the value of key strictly: exactly the fields the
// view writes, for that user, in a known state, with a revision. Anything
// else did not come from the view.
func decodeEntry(key string, data []byte) (revocation.Entry, error) {
	var e revocation.Entry
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, fmt.Errorf("not a revocation entry: %w", err)
	}
	if dec.More() {
		return e, errors.New("not a revocation entry: data after the JSON object")
	}
	switch {
	case e.UserID != key:
		return e, fmt.Errorf("entry of user %q stored under key %q", e.UserID, key)
	case e.Revision == 0:
		return e, errors.New("entry without a revision")
	case !slices.Contains([]string{revocation.StatePending, revocation.StateConfirmed, revocation.StateDisabled, revocation.StateDeleted}, e.State):
		return e, fmt.Errorf("unknown state %q", e.State)
	}
	return e, nil
}

// RunHeartbeat publishes the view's revision every HeartbeatEvery until
// ctx ends, so watchers can tell an idle service from a dead one.
func (v *RevocationView) RunHeartbeat(ctx context.Context) {
	t := time.NewTicker(HeartbeatEvery)
	defer t.Stop()
	for {
		hb, _ := json.Marshal(Heartbeat{Revision: v.Position(), At: time.Now().UTC()})
		_ = v.js.Conn().Publish(HeartbeatSubject, hb)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
