package watermill_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	wmintake "github.com/userlife/userlife/adapters/watermill"
	"github.com/userlife/userlife/events"
)

// lossyOutcomes stores outcomes in the results stream; for one command it
// then runs a hook and reports a failure, as when the process dies (or its
// connection drops) between storing the outcome and acknowledging the
// command: the queue delivers the command again.
type lossyOutcomes struct {
	*natsadapter.Results
	target string
	hook   func()
	once   sync.Once
}

func (l *lossyOutcomes) Publish(ctx context.Context, o events.Outcome) error {
	if err := l.Results.Publish(ctx, o); err != nil {
		return err
	}
	lost := false
	if o.CommandID == l.target {
		l.once.Do(func() { l.hook(); lost = true })
	}
	if lost {
		return errors.New("acknowledgement lost")
	}
	return nil
}

var _ wmintake.OutcomeStore = (*lossyOutcomes)(nil)

// A command answered "unchanged" whose acknowledgement was lost is
// delivered again after the user changed. It must keep its answer, not be
// decided again: a disable answered "unchanged" that later disables the
// user after an enable would undo the newer command.
func TestIntakeRedeliveryKeepsTheStoredOutcome(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	results, err := natsadapter.NewResults(ctx, e.js)
	if err != nil {
		t.Fatal(err)
	}
	disable := &events.DisableUser{CommandMeta: meta("target")}
	disable.CommandID = "disable-" + newID()
	lossy := &lossyOutcomes{Results: results, target: disable.CommandID, hook: func() {
		// Between the first answer and the redelivery, the user is enabled.
		enable := &events.EnableUser{CommandMeta: meta("target")}
		enable.CommandID = "enable-" + newID()
		o, err := e.svc.Handle(ctx, enable)
		if err != nil || o.Status != events.StatusAccepted {
			t.Errorf("enable between the deliveries: %+v, %v", o, err)
		}
	}}
	e.startIntake(t, func(c *wmintake.Config) { c.Outcomes = lossy })
	e.confirmedUser(t, "target")
	e.mustAccept(t, &events.DisableUser{CommandMeta: meta("target")})

	if _, err := e.client.Send(ctx, disable); err != nil {
		t.Fatal(err)
	}
	waitQueueEmpty(t, e)

	o, err := results.Get(ctx, disable.CommandID)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != events.StatusUnchanged {
		t.Errorf("stored outcome: got %+v, want the first answer, unchanged", o)
	}
	for _, ev := range e.storedEvents(t) {
		if ev.CommandID == disable.CommandID {
			t.Errorf("the redelivered disable appended %s at %d after it was answered unchanged", ev.Type, ev.Seq)
		}
	}
}

// waitQueueEmpty waits until every command has been acknowledged.
func waitQueueEmpty(t *testing.T, e *env) {
	t.Helper()
	ctx := testContext(t)
	for {
		s, err := e.js.Stream(ctx, natsadapter.CommandStream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d commands still unacknowledged", info.State.Msgs)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
