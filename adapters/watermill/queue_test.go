package watermill_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
)

// doAll sends every command at once and waits for all outcomes.
func (e *env) doAll(t *testing.T, cmds []events.Command) []events.Outcome {
	t.Helper()
	ctx := testContext(t)
	outs := make([]events.Outcome, len(cmds))
	errs := make([]error, len(cmds))
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		if cmd.Meta().CommandID == "" {
			cmd.Meta().CommandID = newID()
		}
		wg.Go(func() { outs[i], errs[i] = e.client.Do(ctx, cmd) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s %s: %v", cmds[i].CommandName(), cmds[i].Meta().CommandID, err)
		}
		if outs[i].CommandID != cmds[i].Meta().CommandID {
			t.Fatalf("outcome for %s names command %s", cmds[i].Meta().CommandID, outs[i].CommandID)
		}
	}
	return outs
}

// checkOneOutcomeOneEvent checks the end state after cmds: each command's
// outcome was published exactly once, and the event stream holds exactly one
// event per accepted command (at the outcome's sequence) and nothing else.
func (e *env) checkOneOutcomeOneEvent(t *testing.T, cmds []events.Command, outs []events.Outcome, otherEvents int) {
	t.Helper()
	// A command leaves the work queue when acked, after its outcome was
	// stored: once the queue is empty every publish has been recorded.
	eventually(t, "the command queue to drain", func() bool { return e.streamMsgs(t, natsadapter.CommandStream) == 0 })
	accepted := map[string]uint64{}
	for i, cmd := range cmds {
		id := cmd.Meta().CommandID
		if pub := e.outcomes.published(id); len(pub) != 1 {
			t.Errorf("command %s: %d outcomes published, want 1: %+v", id, len(pub), pub)
		}
		if outs[i].Status == events.StatusAccepted {
			accepted[id] = outs[i].EventSeq
		}
	}
	evs := e.storedEvents(t)
	seen := map[string]bool{}
	for _, ev := range evs {
		if seen[ev.CommandID] {
			t.Errorf("command %s appended twice (again at seq %d)", ev.CommandID, ev.Seq)
		}
		seen[ev.CommandID] = true
		if seq, ok := accepted[ev.CommandID]; ok && seq != ev.Seq {
			t.Errorf("command %s: event at seq %d, outcome says %d", ev.CommandID, ev.Seq, seq)
		}
	}
	for id := range accepted {
		if !seen[id] {
			t.Errorf("accepted command %s has no event", id)
		}
	}
	if got, want := len(evs), len(accepted)+otherEvents; got != want {
		t.Errorf("events stored: got %d, want %d (%d accepted commands and %d others)", got, want, len(accepted), otherEvents)
	}
}

func countStatus(outs []events.Outcome) map[string]int {
	n := map[string]int{}
	for _, o := range outs {
		n[string(o.Status)+" "+o.Code]++
	}
	return n
}

func register(userID string) *events.RegisterUser {
	return &events.RegisterUser{CommandMeta: meta(userID), Email: userID + "@example.com"}
}

// Commands sent while no intake runs wait in the work queue and are handled
// once one starts.
func TestIntakeHandlesCommandsQueuedWhileDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)

	const n = 50
	cmds := make([]events.Command, n)
	watches := make([]*natsadapter.OutcomeWatch, n)
	for i := range cmds {
		cmd := register(fmt.Sprintf("queued-%02d", i))
		cmd.CommandID = newID()
		w, err := e.client.Results().Watch(cmd.CommandID)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if _, err := e.client.Send(ctx, cmd); err != nil {
			t.Fatalf("send with no intake running: %v", err)
		}
		cmds[i], watches[i] = cmd, w
	}
	if got := e.streamMsgs(t, natsadapter.CommandStream); got != n {
		t.Fatalf("queued commands: got %d, want %d", got, n)
	}

	e.startIntake(t, nil)
	outs := make([]events.Outcome, n)
	for i, w := range watches {
		o, err := w.Wait(ctx)
		if err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
		if o.Status != events.StatusAccepted {
			t.Errorf("command %d: got %+v, want accepted", i, o)
		}
		outs[i] = o
	}
	e.checkOneOutcomeOneEvent(t, cmds, outs, 0)
}

// Two intakes on separate connections share the queue: each command is
// handled by one of them, once.
func TestIntakesShareTheQueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.startIntake(t, nil)
	b := e.startIntake(t, nil)

	const users, perUser = 40, 10
	var regs, rest []events.Command
	for u := range users {
		id := fmt.Sprintf("shared-%02d", u)
		regs = append(regs, register(id))
		rest = append(rest, &events.ConfirmUser{CommandMeta: meta(id)})
		for range perUser - 2 {
			rest = append(rest, &events.RevokeSessions{CommandMeta: meta(id)})
		}
	}
	// Registrations first (a confirm that overtakes its registration would
	// be refused as unknown_user), then everything else at once.
	outs := e.doAll(t, regs)
	outs = append(outs, e.doAll(t, rest)...)
	cmds := append(regs, rest...)
	if len(cmds) != users*perUser {
		t.Fatalf("sent %d commands", len(cmds))
	}
	t.Logf("outcomes: %v; handler calls: %d and %d", countStatus(outs), a.calls.n.Load(), b.calls.n.Load())

	for i, o := range outs {
		if o.Status != events.StatusAccepted {
			t.Errorf("%s %s: got %+v, want accepted", cmds[i].CommandName(), cmds[i].Meta().UserID, o)
		}
	}
	e.checkOneOutcomeOneEvent(t, cmds, outs, 0)
	if a.calls.n.Load() == 0 || b.calls.n.Load() == 0 {
		t.Errorf("handler calls: %d and %d, want both intakes to handle some", a.calls.n.Load(), b.calls.n.Load())
	}
	if got := a.calls.n.Load() + b.calls.n.Load(); got < int64(len(cmds)) {
		t.Errorf("handler calls: %d in all, want at least %d", got, len(cmds))
	}

	// One intake stops; the other takes everything after.
	if err := a.Close(); err != nil {
		t.Fatalf("close one intake: %v", err)
	}
	before := b.calls.n.Load()
	var more []events.Command
	for u := range users {
		more = append(more, &events.DisableUser{CommandMeta: meta(fmt.Sprintf("shared-%02d", u))})
	}
	outs2 := e.doAll(t, more)
	for i, o := range outs2 {
		if o.Status != events.StatusAccepted {
			t.Errorf("after one intake stopped: %s: got %+v, want accepted", more[i].Meta().UserID, o)
		}
	}
	if got := b.calls.n.Load() - before; got < int64(len(more)) {
		t.Errorf("the remaining intake handled %d commands, want %d", got, len(more))
	}
	e.checkOneOutcomeOneEvent(t, append(cmds, more...), append(outs, outs2...), 0)
}

// Concurrent writers on one user conflict; the conflicts are decided again
// until every command lands, each as its own event.
func TestIntakeRetriesConflictingWriters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := e.startIntake(t, nil)
	e.confirmedUser(t, "hot")

	const n = 30
	cmds := make([]events.Command, n)
	for i := range cmds {
		cmds[i] = &events.RevokeSessions{CommandMeta: meta("hot")}
	}
	outs := e.doAll(t, cmds)
	t.Logf("outcomes: %v; handler calls: %d", countStatus(outs), in.calls.n.Load())
	seqs := map[uint64]bool{}
	for i, o := range outs {
		if o.Status != events.StatusAccepted || o.EventSeq == 0 {
			t.Errorf("command %d: got %+v, want accepted", i, o)
		}
		if seqs[o.EventSeq] {
			t.Errorf("command %d: event_seq %d given twice", i, o.EventSeq)
		}
		seqs[o.EventSeq] = true
	}
	e.checkOneOutcomeOneEvent(t, cmds, outs, 2)

	var revs int
	var last events.SessionsRevoked
	for _, ev := range e.storedEvents(t) {
		p, ok := ev.Data.(events.SessionsRevoked)
		if !ok {
			continue
		}
		revs++
		if !p.RevokedBefore.After(last.RevokedBefore) {
			t.Errorf("seq %d: revoked_before %s does not move forward from %s", ev.Seq, p.RevokedBefore, last.RevokedBefore)
		}
		last = p
	}
	if revs != n {
		t.Errorf("SessionsRevoked events: got %d, want %d", revs, n)
	}
}

// Closing an intake while commands are in flight finishes and acks those,
// leaves the rest queued, and a new intake handles the rest: every command
// is answered once and appends once.
func TestIntakeCloseWhileCommandsInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)

	// The first intake holds every command after the 20th until Close has
	// begun, so Close certainly finds commands in flight.
	release := make(chan struct{})
	var releaseOnce sync.Once
	onLog := func(msg string) {
		if msg == "Closing router" { // logged by watermill's Router.Close
			releaseOnce.Do(func() { close(release) })
		}
	}
	held := make(chan struct{}, 100)
	first := e.startIntake(t, withHook(func(ctx context.Context, _ events.Command, n int64) error {
		if n <= 20 {
			return nil
		}
		held <- struct{}{}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}))

	const n = 100
	cmds := make([]events.Command, n)
	watches := make([]*natsadapter.OutcomeWatch, n)
	for i := range cmds {
		cmd := register(fmt.Sprintf("inflight-%03d", i))
		cmd.CommandID = newID()
		w, err := e.client.Results().Watch(cmd.CommandID)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if _, err := e.client.Send(ctx, cmd); err != nil {
			t.Fatal(err)
		}
		cmds[i], watches[i] = cmd, w
	}
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatal("no command reached the handler")
	}
	e.logs.onMsg.Store(&onLog)
	if err := first.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	e.logs.onMsg.Store(nil)
	if err := first.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}

	// Every command the first intake answered was acked before Close
	// returned: the queue holds exactly the unanswered ones.
	answered := e.outcomes.count()
	if got, want := e.streamMsgs(t, natsadapter.CommandStream), uint64(n-answered); got != want {
		t.Errorf("after Close: %d commands queued, want %d (%d of %d answered)", got, want, answered, n)
	}
	t.Logf("first intake: %d handler calls, %d commands answered", first.calls.n.Load(), answered)

	e.startIntake(t, nil)
	outs := make([]events.Outcome, n)
	for i, w := range watches {
		o, err := w.Wait(ctx)
		if err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
		if o.Status != events.StatusAccepted {
			t.Errorf("command %d: got %+v, want accepted", i, o)
		}
		outs[i] = o
	}
	e.checkOneOutcomeOneEvent(t, cmds, outs, 0)
}
