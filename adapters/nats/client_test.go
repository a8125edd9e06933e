package nats_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
)

func newClient(t *testing.T) (*env, *natsadapter.Client) {
	t.Helper()
	e := newEnv(t)
	c, err := natsadapter.NewClient(testContext(t), e.js)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return e, c
}

func TestClientSendAssignsCommandID(t *testing.T) {
	t.Parallel()
	e, c := newClient(t)
	cmd := &events.DisableUser{CommandMeta: events.CommandMeta{UserID: "u-1", Actor: "admin"}}

	id, err := c.Send(testContext(t), cmd)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 {
		t.Errorf("assigned command id %q: want a UUIDv7 (parse error %v)", id, err)
	}
	if cmd.CommandID != id {
		t.Errorf("command's command_id = %q, want the returned %q", cmd.CommandID, id)
	}

	// The queued command carries its id in the body and as Nats-Msg-Id.
	ctx := testContext(t)
	s, err := e.js.Stream(ctx, natsadapter.CommandStream)
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	msg, err := s.GetLastMsgForSubject(ctx, events.CommandSubject(events.CmdDisableUser))
	if err != nil {
		t.Fatalf("read the queued command: %v", err)
	}
	got, err := events.DecodeCommand(events.CmdDisableUser, msg.Data)
	if err != nil {
		t.Fatalf("decode the queued command: %v", err)
	}
	if got.Meta().CommandID != id || got.Meta().UserID != "u-1" {
		t.Errorf("queued command = %+v, want command_id %q and user_id u-1", got.Meta(), id)
	}
	if h := msg.Header.Get("Nats-Msg-Id"); h != id {
		t.Errorf("Nats-Msg-Id = %q, want %q", h, id)
	}
}

func TestClientSendDeduplicates(t *testing.T) {
	t.Parallel()
	e, c := newClient(t)
	tests := []struct {
		name      string
		commandID string
		sends     int
		wantMsgs  uint64 // in USERLIFE_CMD after this case, cumulative
	}{
		{"same command id twice", "c-dup", 2, 1},
		{"another command id", "c-other", 1, 2},
		{"the first id again", "c-dup", 1, 2},
	}
	for _, tt := range tests {
		for range tt.sends {
			cmd := &events.RevokeSessions{CommandMeta: events.CommandMeta{CommandID: tt.commandID, UserID: "u-1", Actor: "admin"}}
			id, err := c.Send(testContext(t), cmd)
			if err != nil {
				t.Fatalf("%s: Send: %v", tt.name, err)
			}
			if id != tt.commandID {
				t.Errorf("%s: Send returned id %q, want %q", tt.name, id, tt.commandID)
			}
		}
		if got := streamMsgs(t, e.js, natsadapter.CommandStream); got != tt.wantMsgs {
			t.Errorf("%s: %s holds %d commands, want %d", tt.name, natsadapter.CommandStream, got, tt.wantMsgs)
		}
	}
}

// A command id becomes the Nats-Msg-Id header: one carrying CR/LF would
// smuggle headers of its own (here a Nats-Expected-Stream that makes the
// server refuse, or any Nats-* directive) into the publish. Send refuses
// ids that are not valid before anything reaches the server.
func TestClientSendRefusesInvalidCommandIDs(t *testing.T) {
	t.Parallel()
	e, c := newClient(t)
	for _, id := range []string{"x\r\nNats-Expected-Stream: elsewhere", "a\nb", "a.b", "*", ">", "a b", strings.Repeat("x", 200)} {
		cmd := &events.DisableUser{CommandMeta: events.CommandMeta{CommandID: id, UserID: "u-1", Actor: "admin"}}
		if _, err := c.Send(testContext(t), cmd); err == nil || !strings.Contains(err.Error(), "command id") {
			t.Errorf("Send with command id %q: %v, want an invalid command id error", id, err)
		}
		if _, err := c.Do(testContext(t), cmd); err == nil || !strings.Contains(err.Error(), "command id") {
			t.Errorf("Do with command id %q: %v, want an invalid command id error", id, err)
		}
	}
	if n := streamMsgs(t, e.js, natsadapter.CommandStream); n != 0 {
		t.Errorf("the command stream holds %d messages, want 0", n)
	}
}
