package watermill_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
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
	go func() { it.done <- in.Run(context.Background()) }()
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
	// before, if set, runs before each command is handled.
	before func(ctx context.Context, n int64) error
}

func (h *countingHandler) Handle(ctx context.Context, cmd events.Command) (events.Outcome, error) {
	n := h.n.Add(1)
	if h.before != nil {
		if err := h.before(ctx, n); err != nil {
			return events.Outcome{}, err
		}
	}
	return h.inner.Handle(ctx, cmd)
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

// logBuffer collects log records so a failing test can show them.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	// onMsg, if set, is called with every record's message.
	onMsg atomic.Pointer[func(string)]
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger(level slog.Level) *slog.Logger {
	return slog.New(&hookHandler{Handler: slog.NewTextHandler(b, &slog.HandlerOptions{Level: level}), b: b})
}

// hookHandler passes every record's message to logBuffer.onMsg, whatever
// its level, then logs it if the level is enabled.
type hookHandler struct {
	slog.Handler
	b *logBuffer
}

func (h *hookHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.b.onMsg.Load() != nil || h.Handler.Enabled(ctx, l)
}

func (h *hookHandler) Handle(ctx context.Context, r slog.Record) error {
	if f := h.b.onMsg.Load(); f != nil {
		(*f)(r.Message)
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h *hookHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &hookHandler{Handler: h.Handler.WithAttrs(as), b: h.b}
}

func (h *hookHandler) WithGroup(name string) slog.Handler {
	return &hookHandler{Handler: h.Handler.WithGroup(name), b: h.b}
}

// jsonf formats a JSON command for a raw publish.
func jsonf(format string, args ...any) []byte { return []byte(fmt.Sprintf(format, args...)) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

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
