package watermill_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	wmintake "github.com/userlife/userlife/adapters/watermill"
	"github.com/userlife/userlife/domain"
	"github.com/userlife/userlife/events"
)

// waitTimeout bounds every wait in these tests; nothing asserts on time.
const waitTimeout = 20 * time.Second

// env is one embedded NATS server with every userlife stream, the real
// stores and a client. Intakes are started on it with startIntake.
type env struct {
	url      string
	js       jetstream.JetStream
	nc       *nats.Conn // a plain core connection, like `nats pub`
	client   *natsadapter.Client
	svc      *domain.Service
	outcomes *recordingOutcomes
	logs     *logBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	url, js := natstest.Provisioned(t)
	ctx := testContext(t)
	store, err := natsadapter.NewEventStore(ctx, js)
	if err != nil {
		t.Fatalf("event store: %v", err)
	}
	emails, err := natsadapter.NewEmailRegistry(ctx, js)
	if err != nil {
		t.Fatalf("email registry: %v", err)
	}
	results, err := natsadapter.NewResults(ctx, js)
	if err != nil {
		t.Fatalf("results: %v", err)
	}
	client, err := natsadapter.NewClient(ctx, js)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	nc, _ := natstest.Connect(t, url)
	logs := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service log (warnings and errors):\n%s", logs.String())
		}
	})
	return &env{
		url: url, js: js, nc: nc, client: client, logs: logs,
		outcomes: &recordingOutcomes{inner: results, byID: map[string][]events.Outcome{}},
		svc: &domain.Service{
			Store:  store,
			Emails: emails,
			Decider: domain.Decider{
				Now:   time.Now,
				NewID: func() string { return uuid.Must(uuid.NewV7()).String() },
			},
			Logger: logs.logger(slog.LevelWarn),
		},
	}
}

// testContext ends at waitTimeout or when the test ends.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// intake is a running Intake and the handler counting its calls.
type intake struct {
	*wmintake.Intake
	calls *countingHandler
	done  chan error // Run's result
}

// startIntake starts an intake on e (its own connections, the shared
// stores) and waits until it consumes. It is closed when the test ends.
func (e *env) startIntake(t *testing.T, tweak func(*wmintake.Config)) *intake {
	t.Helper()
	return e.startIntakeCtx(t, context.Background(), tweak)
}

// startIntakeCtx is startIntake with Run's context.
func (e *env) startIntakeCtx(t *testing.T, ctx context.Context, tweak func(*wmintake.Config)) *intake {
	t.Helper()
	h := &countingHandler{inner: e.svc}
	cfg := wmintake.Config{
		NATSURL:      e.url,
		Handler:      h,
		Outcomes:     e.outcomes,
		Concurrency:  4,
		CloseTimeout: 10 * time.Second,
		Logger:       e.logs.logger(slog.LevelWarn),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	in, err := wmintake.New(cfg)
	if err != nil {
		t.Fatalf("new intake: %v", err)
	}
	it := &intake{Intake: in, calls: h, done: make(chan error, 1)}
	go func() { it.done <- in.Run(ctx) }()
	t.Cleanup(func() {
		if err := in.Close(); err != nil {
			t.Errorf("close intake: %v", err)
		}
		select {
		case err := <-it.done:
			if err != nil {
				t.Errorf("intake Run: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("intake Run did not return after Close")
		}
	})
	select {
	case <-in.Running():
	case err := <-it.done:
		t.Fatalf("intake stopped at start: %v", err)
	case <-time.After(waitTimeout):
		t.Fatalf("intake did not start")
	}
	return it
}

// countingHandler counts the commands one intake handled.
type countingHandler struct {
	inner wmintake.Handler
	n     atomic.Int64
	// before, if set, runs before each command is handled with the number
	// of this call.
	before func(ctx context.Context, cmd events.Command, n int64) error
}

func (h *countingHandler) Handle(ctx context.Context, cmd events.Command) (events.Outcome, error) {
	n := h.n.Add(1)
	if h.before != nil {
		if err := h.before(ctx, cmd, n); err != nil {
			return events.Outcome{}, err
		}
	}
	return h.inner.Handle(ctx, cmd)
}

// withHook sets the counting handler's before hook (before Run, so the
// handler goroutines see it).
func withHook(before func(ctx context.Context, cmd events.Command, n int64) error) func(*wmintake.Config) {
	return func(c *wmintake.Config) { c.Handler.(*countingHandler).before = before }
}

// recordingOutcomes stores outcomes and remembers every one published, so a
// test can tell "one outcome" from "the same outcome twice".
type recordingOutcomes struct {
	inner wmintake.OutcomePublisher
	mu    sync.Mutex
	byID  map[string][]events.Outcome
}

func (r *recordingOutcomes) Publish(ctx context.Context, o events.Outcome) error {
	if err := r.inner.Publish(ctx, o); err != nil {
		return err
	}
	r.mu.Lock()
	r.byID[o.CommandID] = append(r.byID[o.CommandID], o)
	r.mu.Unlock()
	return nil
}

func (r *recordingOutcomes) published(commandID string) []events.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Outcome(nil), r.byID[commandID]...)
}

func (r *recordingOutcomes) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID)
}

// publishRaw publishes payload with a plain core publish and no headers,
// as `nats pub` does.
func (e *env) publishRaw(t *testing.T, subject string, payload []byte) {
	t.Helper()
	if err := e.nc.Publish(subject, payload); err != nil {
		t.Fatalf("publish to %s: %v", subject, err)
	}
	if err := e.nc.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// watch subscribes to a command's outcomes (every one published, live).
func (e *env) watch(t *testing.T, commandID string) *nats.Subscription {
	t.Helper()
	sub, err := e.nc.SubscribeSync(events.ResultSubject(commandID))
	if err != nil {
		t.Fatalf("subscribe to outcome of %s: %v", commandID, err)
	}
	if err := e.nc.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return sub
}

// nextOutcome waits for the next outcome on sub.
func nextOutcome(t *testing.T, sub *nats.Subscription) events.Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	m, err := sub.NextMsgWithContext(ctx)
	if err != nil {
		t.Fatalf("no outcome on %s: %v", sub.Subject, err)
	}
	o, err := events.DecodeOutcome(m.Data)
	if err != nil {
		t.Fatalf("decode outcome %s: %v", m.Data, err)
	}
	return o
}

// rawOutcome publishes payload on subject with no headers and returns the
// outcome published under the command_id the payload carries.
func (e *env) rawOutcome(t *testing.T, subject, commandID string, payload []byte) events.Outcome {
	t.Helper()
	sub := e.watch(t, commandID)
	e.publishRaw(t, subject, payload)
	return nextOutcome(t, sub)
}

// do sends cmd through the client and waits for its outcome.
func (e *env) do(t *testing.T, cmd events.Command) events.Outcome {
	t.Helper()
	o, err := e.client.Do(testContext(t), cmd)
	if err != nil {
		t.Fatalf("%s: %v", cmd.CommandName(), err)
	}
	return o
}

// mustAccept sends cmd and fails unless it is accepted.
func (e *env) mustAccept(t *testing.T, cmd events.Command) events.Outcome {
	t.Helper()
	o := e.do(t, cmd)
	if o.Status != events.StatusAccepted || o.EventSeq == 0 {
		t.Fatalf("%s %s: got %+v, want accepted with an event_seq", cmd.CommandName(), cmd.Meta().UserID, o)
	}
	return o
}

// confirmedUser registers and confirms a user with id userID.
func (e *env) confirmedUser(t *testing.T, userID string) {
	t.Helper()
	e.mustAccept(t, &events.RegisterUser{CommandMeta: meta(userID), Email: userID + "@example.com"})
	e.mustAccept(t, &events.ConfirmUser{CommandMeta: meta(userID)})
}

func meta(userID string) events.CommandMeta {
	return events.CommandMeta{UserID: userID, Actor: "admin@example.com", Reason: "test"}
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// jsonf formats a JSON command for a raw publish.
func jsonf(format string, args ...any) []byte { return []byte(fmt.Sprintf(format, args...)) }

// rawOutcomeWithMsgID publishes payload with only a Nats-Msg-Id header and
// returns the outcome published under that id.
func (e *env) rawOutcomeWithMsgID(t *testing.T, subject, msgID string, payload []byte) events.Outcome {
	t.Helper()
	sub := e.watch(t, msgID)
	m := nats.NewMsg(subject)
	m.Data = payload
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	if err := e.nc.PublishMsg(m); err != nil {
		t.Fatalf("publish to %s: %v", subject, err)
	}
	return nextOutcome(t, sub)
}
