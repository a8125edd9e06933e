package faults

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
)

// ledger is what the service wrote: the stored outcome of each command and
// the events of each command, in stream order.
type ledger struct {
	outcomes    map[string]events.Outcome
	published   uint64 // outcome messages ever stored, re-publications included
	events      map[string][]events.Event
	allEvents   []events.Event
	lastEventSq uint64
	undecodable error // messages that did not decode
}

func readLedger(ctx context.Context, t *testing.T, js jetstream.JetStream) ledger {
	t.Helper()
	var l ledger
	err := retry(ctx, func() error {
		var err error
		l, err = tryReadLedger(ctx, js)
		return err
	})
	if err != nil {
		t.Fatalf("read the ledger: %v", err)
	}
	if l.undecodable != nil {
		t.Fatal(l.undecodable)
	}
	return l
}

// retry calls f until it succeeds or ctx ends: right after a node of a
// cluster comes back, a stream may be without a leader for a few seconds
// ("no responders").
func retry(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func tryReadLedger(ctx context.Context, js jetstream.JetStream) (ledger, error) {
	l := ledger{outcomes: map[string]events.Outcome{}, events: map[string][]events.Event{}}
	var decodeErr error
	var err error
	l.published, err = readStream(ctx, js, natsadapter.ResultsStream, func(m jetstream.Msg, _ uint64) {
		o, err := events.DecodeOutcome(m.Data())
		if err != nil {
			decodeErr = errors.Join(decodeErr, fmt.Errorf("outcome %s: %w", m.Subject(), err))
		}
		l.outcomes[o.CommandID] = o
	})
	if err != nil {
		return l, err
	}
	l.lastEventSq, err = readStream(ctx, js, natsadapter.EventsStream, func(m jetstream.Msg, seq uint64) {
		e, err := events.Decode(m.Data())
		if err != nil {
			decodeErr = errors.Join(decodeErr, fmt.Errorf("event %s: %w", m.Subject(), err))
		}
		e.Seq = seq
		l.events[e.CommandID] = append(l.events[e.CommandID], e)
		l.allEvents = append(l.allEvents, e)
	})
	if err != nil {
		return l, err
	}
	l.undecodable = decodeErr
	return l, nil
}

// readStream reads every message of a stream with an ordered consumer and
// returns the stream's last sequence.
func readStream(ctx context.Context, js jetstream.JetStream, stream string, f func(jetstream.Msg, uint64)) (uint64, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return last, nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, err
	}
	for {
		batch, err := c.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return 0, err
		}
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return 0, err
			}
			f(m, md.Sequence.Stream)
			if md.Sequence.Stream >= last {
				return last, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return 0, err
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("read %s: %w", stream, ctx.Err())
		}
	}
}
