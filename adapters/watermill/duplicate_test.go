package watermill_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
)

// The same command_id published twice as separate messages (core publishes
// carry no Nats-Msg-Id, so the stream keeps both), and once more after the
// first outcome, appends exactly one event, and every copy is answered
// "accepted" with that event's sequence.
func TestIntakeSameCommandIDTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startIntake(t, nil)
	e.confirmedUser(t, "target")

	tests := []struct {
		name, subject, id, payload string
	}{
		{"revoke sessions", "userlife.cmd.RevokeSessions", "dup-revoke",
			`{"command_id":"dup-revoke","user_id":"target","actor":"admin","reason":"twice"}`},
		{"register with user_id", "userlife.cmd.RegisterUser", "dup-reg",
			`{"command_id":"dup-reg","user_id":"dupe","actor":"admin","email":"dupe@example.com"}`},
		{"register without user_id", "userlife.cmd.RegisterUser", "dup-reg-derived",
			`{"command_id":"dup-reg-derived","actor":"admin","email":"derived@example.com"}`},
		{"register without user_id, UUIDv7 command_id", "userlife.cmd.RegisterUser", "0192f0c4-8d3a-7a51-9c2e-3b1f4e5d6a7b",
			`{"command_id":"0192f0c4-8d3a-7a51-9c2e-3b1f4e5d6a7b","actor":"admin","email":"derived7@example.com"}`},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				sub := e.watch(t, tc.id)
				e.publishRaw(t, tc.subject, []byte(tc.payload))
				e.publishRaw(t, tc.subject, []byte(tc.payload))
				first := nextOutcome(t, sub)
				second := nextOutcome(t, sub)
				e.publishRaw(t, tc.subject, []byte(tc.payload))
				third := nextOutcome(t, sub)

				if first.Status != events.StatusAccepted || first.EventSeq == 0 || !events.ValidID(first.UserID) {
					t.Fatalf("first outcome: got %+v, want accepted with an event_seq", first)
				}
				for i, o := range []events.Outcome{second, third} {
					if o != first {
						t.Errorf("outcome %d: got %+v, want the same as the first, %+v", i+2, o, first)
					}
				}
				var n int
				for _, ev := range e.storedEvents(t) {
					if ev.CommandID == tc.id {
						n++
						if ev.Seq != first.EventSeq || ev.UserID != first.UserID {
							t.Errorf("event of %s: seq %d user %s, outcome says seq %d user %s", tc.id, ev.Seq, ev.UserID, first.EventSeq, first.UserID)
						}
					}
				}
				if n != 1 {
					t.Errorf("events with command_id %s: got %d, want 1", tc.id, n)
				}
			})
		}
		t.Run("client sends twice", func(t *testing.T) {
			t.Parallel()
			// The client sets Nats-Msg-Id: the stream stores the command once.
			cmd := &events.RevokeSessions{CommandMeta: meta("target")}
			cmd.CommandID = "dup-client"
			sub := e.watch(t, cmd.CommandID)
			for range 2 {
				if _, err := e.client.Send(testContext(t), cmd); err != nil {
					t.Fatal(err)
				}
			}
			if o := nextOutcome(t, sub); o.Status != events.StatusAccepted {
				t.Fatalf("got %+v, want accepted", o)
			}
		})
	})
	if t.Failed() {
		return
	}
	eventually(t, "the command queue to drain", func() bool { return e.streamMsgs(t, natsadapter.CommandStream) == 0 })
	for _, tc := range tests {
		if n := len(e.outcomes.published(tc.id)); n != 3 {
			t.Errorf("%s: %d outcomes published, want 3 (one per copy)", tc.name, n)
		}
	}
	if n := len(e.outcomes.published("dup-client")); n != 1 {
		t.Errorf("client sends twice: %d outcomes published, want 1", n)
	}
}

// A command re-sent with the same Nats-Msg-Id after the stream's duplicate
// window has passed is stored again (the window is finite), and the service
// still applies it once: the command id is in the user's history, so the
// late copy gets the first outcome and appends nothing. The window is
// shortened here so the test need not wait two minutes.
func TestIntakeCommandReplayedAfterDuplicateWindow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	s, err := e.js.Stream(ctx, natsadapter.CommandStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.Duplicates = 100 * time.Millisecond
	if _, err := e.js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	e.startIntake(t, nil)
	e.confirmedUser(t, "replayed")

	cmd := &events.DisableUser{CommandMeta: meta("replayed")}
	cmd.CommandID, cmd.Reason = "replay-after-window", "first"
	sub := e.watch(t, cmd.CommandID)
	if _, err := e.client.Send(ctx, cmd); err != nil {
		t.Fatal(err)
	}
	first := nextOutcome(t, sub)
	if first.Status != events.StatusAccepted || first.EventSeq == 0 {
		t.Fatalf("first outcome %+v, want accepted", first)
	}
	// Re-send the same message (same Nats-Msg-Id) until the stream stores
	// it again, i.e. until the window has passed.
	data, err := events.EncodeCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	for {
		msg := nats.NewMsg(events.CommandSubject(events.CmdDisableUser))
		msg.Data = data
		msg.Header.Set(jetstream.MsgIDHeader, cmd.CommandID)
		ack, err := e.js.PublishMsg(ctx, msg)
		if err != nil {
			t.Fatal(err)
		}
		if !ack.Duplicate {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if second := nextOutcome(t, sub); second != first {
		t.Errorf("outcome of the late copy %+v, want the first %+v", second, first)
	}
	n := 0
	for _, ev := range e.storedEvents(t) {
		if ev.CommandID == cmd.CommandID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("events of %s: %d, want 1", cmd.CommandID, n)
	}
}
