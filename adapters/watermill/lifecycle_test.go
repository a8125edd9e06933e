package watermill_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	wmintake "github.com/userlife/userlife/adapters/watermill"
	"github.com/userlife/userlife/events"
)

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	_, err := wmintake.New(wmintake.Config{MaxDeliver: 1, AckWait: time.Millisecond})
	if err == nil {
		t.Fatal("New with an empty config: got no error")
	}
	for _, want := range []string{"NATSURL", "Handler", "Outcomes", "AckWait", "MaxDeliver"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestNewWithoutProvisionedStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := wmintake.New(wmintake.Config{
		NATSURL: e.url, Handler: e.svc, Outcomes: e.outcomes, CommandStream: "NO_SUCH_STREAM",
		CloseTimeout: time.Second,
	})
	if err == nil || !strings.Contains(err.Error(), "NO_SUCH_STREAM") {
		t.Fatalf("New on a missing stream: got %v, want an error naming it", err)
	}
}

// An intake that never ran closes at once, and cannot run afterwards.
func TestIntakeCloseWithoutRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in, err := wmintake.New(wmintake.Config{
		NATSURL: e.url, Handler: e.svc, Outcomes: e.outcomes, CloseTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Close(); err != nil {
		t.Errorf("close before run: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- in.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("run after close: got no error")
		}
	case <-time.After(waitTimeout):
		t.Fatal("run after close did not return")
	}
}

// Ending Run's context stops the intake like Close: nothing answers
// commands any more, and they wait in the queue.
func TestIntakeStopsWhenRunContextEnds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := e.startIntakeCtx(t, ctx, nil)
	e.confirmedUser(t, "u1")

	cancel()
	select {
	case err := <-in.done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
		in.done <- nil // for the cleanup
	case <-time.After(waitTimeout):
		t.Fatal("run did not return after its context ended")
	}

	// The unknown-command catch-all is gone too: a JetStream publish to an
	// unknown subject finds no responder.
	_, err := e.js.Publish(testContext(t), "userlife.cmd.FrobnicateUser", []byte(`{}`))
	if !errors.Is(err, jetstream.ErrNoStreamResponse) && !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("publish of an unknown command after stop: got %v, want no responders", err)
	}
	if _, err := e.client.Send(testContext(t), &events.RevokeSessions{CommandMeta: meta("u1")}); err != nil {
		t.Fatal(err)
	}
	if got := e.streamMsgs(t, natsadapter.CommandStream); got != 1 {
		t.Errorf("queued commands: got %d, want 1", got)
	}
	if err := in.Close(); err != nil {
		t.Errorf("close after run stopped: %v", err)
	}

	// A new intake takes the queued command.
	e.startIntake(t, nil)
	eventually(t, "the queued command handled", func() bool { return e.streamMsgs(t, natsadapter.CommandStream) == 0 })
}

// Running an intake twice at once is refused.
func TestIntakeRunTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := e.startIntake(t, nil)
	if err := in.Run(context.Background()); err == nil {
		t.Error("second Run: got no error")
	}
	e.confirmedUser(t, "still-works")
}
