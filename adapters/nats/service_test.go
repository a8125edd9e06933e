package nats_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/domain"
	"github.com/userlife/userlife/events"
)

// registerUser registers userID through svc and fails the test unless accepted.
func registerUser(t *testing.T, svc *domain.Service, userID, email string) events.Outcome {
	t.Helper()
	out, err := svc.Handle(testContext(t), &events.RegisterUser{
		CommandMeta: events.CommandMeta{CommandID: "c-register-" + userID, UserID: userID, Actor: "admin"},
		Email:       email,
	})
	if err != nil || out.Status != events.StatusAccepted {
		t.Fatalf("register %s = %+v, %v; want accepted", userID, out, err)
	}
	return out
}

// Writers racing on one user each get exactly one event: a conflict is
// retried by deciding again, never lost and never doubled.
func TestServiceConcurrentCommandsOnOneUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	svc := e.service()
	const (
		user       = "u-hot"
		writers    = 20
		maxRetries = 500
	)
	registerUser(t, svc, user, "hot@x.com")

	outcomes := make([]events.Outcome, writers)
	errs := make([]error, writers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			cmd := &events.RevokeSessions{CommandMeta: events.CommandMeta{
				CommandID: fmt.Sprintf("c-revoke-%d", i), UserID: user, Actor: "admin",
			}}
			<-start
			for range maxRetries {
				out, err := svc.Handle(testContext(t), cmd)
				if errors.Is(err, domain.ErrConflict) {
					continue
				}
				outcomes[i], errs[i] = out, err
				return
			}
			errs[i] = fmt.Errorf("still conflicting after %d attempts", maxRetries)
		})
	}
	close(start)
	wg.Wait()

	seqs := map[uint64]int{}
	for i, out := range outcomes {
		if errs[i] != nil {
			t.Errorf("writer %d: %v", i, errs[i])
			continue
		}
		if out.Status != events.StatusAccepted {
			t.Errorf("writer %d outcome = %+v, want accepted", i, out)
			continue
		}
		if prev, dup := seqs[out.EventSeq]; dup {
			t.Errorf("writers %d and %d both got event_seq %d", prev, i, out.EventSeq)
		}
		seqs[out.EventSeq] = i
	}
	if len(seqs) != writers {
		t.Errorf("%d distinct accepted event_seqs, want %d", len(seqs), writers)
	}

	evs, err := e.store.Load(testContext(t), user)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(evs) != writers+1 {
		t.Fatalf("user has %d events, want %d (register + %d revocations)", len(evs), writers+1, writers)
	}
	perCommand := map[string]int{}
	for _, ev := range evs[1:] {
		if ev.Type != events.TypeSessionsRevoked {
			t.Errorf("event %d type = %s, want %s", ev.Seq, ev.Type, events.TypeSessionsRevoked)
		}
		perCommand[ev.CommandID]++
		if i, ok := seqs[ev.Seq]; !ok || fmt.Sprintf("c-revoke-%d", i) != ev.CommandID {
			t.Errorf("event %d of %s matches no accepted outcome", ev.Seq, ev.CommandID)
		}
	}
	for cmd, n := range perCommand {
		if n != 1 {
			t.Errorf("command %s has %d events, want 1", cmd, n)
		}
	}
	if got := streamMsgs(t, e.js, natsadapter.EventsStream); got != writers+1 {
		t.Errorf("event stream holds %d messages, want %d", got, writers+1)
	}
}

func TestServiceSameCommandTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	svc := e.service()
	const user = "u-twice"
	registerUser(t, svc, user, "twice@x.com")
	cmd := &events.RevokeSessions{CommandMeta: events.CommandMeta{CommandID: "c-once", UserID: user, Actor: "admin"}}

	first, err := svc.Handle(testContext(t), cmd)
	if err != nil || first.Status != events.StatusAccepted || first.EventSeq == 0 {
		t.Fatalf("first Handle = %+v, %v; want accepted with an event_seq", first, err)
	}
	second, err := svc.Handle(testContext(t), cmd)
	if err != nil {
		t.Fatalf("second Handle: %v", err)
	}
	if second.Status != events.StatusAccepted || second.EventSeq != first.EventSeq {
		t.Errorf("second Handle = %+v, want accepted with event_seq %d", second, first.EventSeq)
	}
	if got := streamMsgs(t, e.js, natsadapter.EventsStream); got != 2 {
		t.Errorf("event stream holds %d messages, want 2 (register + one revoke)", got)
	}
}
