package watermill_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
)

// storedEvents reads every event in USERLIFE_EVENTS in order, with its
// stream sequence.
func (e *env) storedEvents(t *testing.T) []events.Event {
	t.Helper()
	ctx := testContext(t)
	s, err := e.js.Stream(ctx, natsadapter.EventsStream)
	if err != nil {
		t.Fatalf("events stream: %v", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("events stream info: %v", err)
	}
	total := info.State.Msgs
	if total == 0 {
		return nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatalf("ordered consumer: %v", err)
	}
	var out []events.Event
	for uint64(len(out)) < total {
		batch, err := c.Fetch(int(total)-len(out), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatalf("fetch events: %v", err)
		}
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				t.Fatalf("event metadata: %v", err)
			}
			ev, err := events.Decode(m.Data())
			if err != nil {
				t.Fatalf("decode event at seq %d: %v", md.Sequence.Stream, err)
			}
			ev.Seq = md.Sequence.Stream
			if _, typ, ok := events.ParseEventSubject(m.Subject()); !ok || typ != ev.Type {
				t.Errorf("event at seq %d on subject %s has type %s", ev.Seq, m.Subject(), ev.Type)
			}
			out = append(out, ev)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			t.Fatalf("fetch events: %v", err)
		}
	}
	return out
}

// streamMsgs is the number of messages stream holds.
func (e *env) streamMsgs(t *testing.T, stream string) uint64 {
	t.Helper()
	ctx := testContext(t)
	s, err := e.js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream %s info: %v", stream, err)
	}
	return info.State.Msgs
}

// eventually polls cond until it holds or the wait times out.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting: %s", what)
		case <-tick.C:
		}
	}
}

// checkStoredOutcome checks that o is the outcome stored for its command.
// A live subscriber can see an outcome before the stream has stored it, so
// this waits for it to appear.
func (e *env) checkStoredOutcome(t *testing.T, o events.Outcome) {
	t.Helper()
	var got events.Outcome
	var err error
	eventually(t, "outcome of "+o.CommandID+" stored", func() bool {
		got, err = e.client.Results().Get(testContext(t), o.CommandID)
		return !errors.Is(err, natsadapter.ErrNoOutcome)
	})
	if err != nil || got != o {
		t.Errorf("stored outcome of %s: got %+v (err %v), want %+v", o.CommandID, got, err, o)
	}
}
