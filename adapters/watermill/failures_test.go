package watermill_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	wmintake "github.com/userlife/userlife/adapters/watermill"
	"github.com/userlife/userlife/domain"
	"github.com/userlife/userlife/events"
)

// When deciding a command fails (not a refusal: an error, a panic, endless
// conflicts) the command still gets exactly one outcome, is redelivered only
// for infrastructure errors, lands in the poison stream when it is given up,
// and the intake goes on.
func TestIntakeHandlerFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// fail is called on the n-th delivery of the failing command.
		fail      func(n int) error
		status    events.Status
		code      string
		message   string // the outcome's message mentions it
		calls     int    // handler calls for the failing command
		poisoned  string // the poison reason mentions it; "" = not poisoned
		maxDelivr int
	}{
		{name: "transient error", calls: 2, status: events.StatusAccepted,
			fail: func(n int) error {
				if n == 1 {
					return errors.New("load user: i/o timeout")
				}
				return nil
			}},
		{name: "persistent error", calls: 3, maxDelivr: 3,
			status: events.StatusRejected, code: events.CodeInternal, message: "gave up after 3 deliveries",
			poisoned: "disk on fire",
			fail:     func(int) error { return errors.New("disk on fire") }},
		{name: "panic", calls: 1,
			status: events.StatusRejected, code: events.CodeInternal, message: "poison stream",
			poisoned: "nil map",
			fail:     func(int) error { var m map[string]int; m["x"]++; return nil }},
		{name: "endless conflicts", calls: 4, // ConflictRetries 3, and the first try
			status: events.StatusRejected, code: events.CodeConflict, message: "send the command again",
			fail: func(int) error { return fmt.Errorf("append: %w", domain.ErrConflict) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			failing := newID()
			var mu sync.Mutex
			deliveries := 0
			e.startIntake(t, func(c *wmintake.Config) {
				c.ConflictRetries = 3
				if tc.maxDelivr != 0 {
					c.MaxDeliver = tc.maxDelivr
				}
				c.Handler.(*countingHandler).before = func(_ context.Context, cmd events.Command, _ int64) error {
					if cmd.Meta().CommandID != failing {
						return nil
					}
					mu.Lock()
					deliveries++
					n := deliveries
					mu.Unlock()
					return tc.fail(n)
				}
			})
			e.confirmedUser(t, "victim")

			cmd := &events.RevokeSessions{CommandMeta: meta("victim")}
			cmd.CommandID = failing
			o := e.do(t, cmd)
			if o.Status != tc.status || o.Code != tc.code || !strings.Contains(o.Message, tc.message) {
				t.Errorf("outcome: got %+v, want %s %s mentioning %q", o, tc.status, tc.code, tc.message)
			}
			if o.UserID != "victim" || o.Command != events.CmdRevokeSessions {
				t.Errorf("outcome: got user %q command %q", o.UserID, o.Command)
			}

			// Still working.
			e.mustAccept(t, &events.RevokeSessions{CommandMeta: meta("victim")})
			eventually(t, "the command queue to drain", func() bool { return e.streamMsgs(t, natsadapter.CommandStream) == 0 })
			mu.Lock()
			if deliveries != tc.calls {
				t.Errorf("handler calls for the failing command: got %d, want %d", deliveries, tc.calls)
			}
			mu.Unlock()
			if n := len(e.outcomes.published(failing)); n != 1 {
				t.Errorf("outcomes published: got %d, want 1", n)
			}
			var appended int
			for _, ev := range e.storedEvents(t) {
				if ev.CommandID == failing {
					appended++
				}
			}
			if want := map[bool]int{true: 1, false: 0}[tc.status == events.StatusAccepted]; appended != want {
				t.Errorf("events of the failing command: got %d, want %d", appended, want)
			}

			if tc.poisoned == "" {
				if n := e.streamMsgs(t, natsadapter.PoisonStream); n != 0 {
					t.Errorf("poison stream holds %d messages, want none", n)
				}
				return
			}
			eventually(t, "the poison copy", func() bool { return e.streamMsgs(t, natsadapter.PoisonStream) == 1 })
			s, err := e.js.Stream(testContext(t), natsadapter.PoisonStream)
			if err != nil {
				t.Fatal(err)
			}
			m, err := s.GetLastMsgForSubject(testContext(t), wmintake.PoisonTopic)
			if err != nil {
				t.Fatal(err)
			}
			if r := m.Header.Get("reason_poisoned"); !strings.Contains(r, tc.poisoned) {
				t.Errorf("reason_poisoned: got %q, want it to mention %q", r, tc.poisoned)
			}
			if !strings.Contains(string(m.Data), failing) {
				t.Errorf("poisoned payload %s is not the command", m.Data)
			}
		})
	}
}
