package watermill_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	wmintake "github.com/userlife/userlife/adapters/watermill"
	"github.com/userlife/userlife/events"
)

// Every bad command gets a rejected outcome with its stable code, appends
// nothing, is never redelivered, and the service keeps deciding good
// commands.
func TestIntakeRejectsBadCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startIntake(t, nil)

	e.confirmedUser(t, "target")
	e.mustAccept(t, &events.RegisterUser{CommandMeta: meta("pend"), Email: "pend@example.com"})
	e.mustAccept(t, &events.RegisterUser{CommandMeta: meta("gone"), Email: "gone@example.com"})
	e.mustAccept(t, &events.DeleteUser{CommandMeta: meta("gone")})
	const setupEvents = 5

	huge := `{"command_id":"h-huge","user_id":"target","actor":"admin","reason":"` + strings.Repeat("x", 70<<10) + `"}`
	if len(huge) <= events.MaxCommandSize {
		t.Fatalf("test payload is only %d bytes", len(huge))
	}
	longReason := `{"command_id":"h-longreason","user_id":"target","actor":"admin","reason":"` + strings.Repeat("r", 2000) + `"}`
	cmd := func(name string) string { return events.CommandSubject(name) }

	tests := []struct {
		name    string
		subject string
		id      string // command_id in the payload
		msgID   string // else a Nats-Msg-Id header
		payload string
		code    string
		userID  string // expected in the outcome, if any
	}{
		{name: "wrong types", subject: cmd("DisableUser"), id: "h-types",
			payload: `{"command_id":"h-types","user_id":5,"actor":"admin"}`, code: events.CodeMalformedCommand},
		{name: "unknown field", subject: cmd("DisableUser"), id: "h-field",
			payload: `{"command_id":"h-field","user_id":"target","actor":"admin","colour":"red"}`, code: events.CodeMalformedCommand, userID: "target"},
		{name: "trailing data", subject: cmd("DisableUser"), msgID: "h-trail",
			payload: `{"command_id":"h-trail","user_id":"target","actor":"admin"} {}`, code: events.CodeMalformedCommand},
		{name: "not json", subject: cmd("DisableUser"), msgID: "h-notjson",
			payload: `{not json`, code: events.CodeMalformedCommand},
		{name: "empty payload", subject: cmd("EnableUser"), msgID: "h-empty",
			payload: ``, code: events.CodeMalformedCommand},
		{name: "array", subject: cmd("EnableUser"), msgID: "h-array",
			payload: `[]`, code: events.CodeMalformedCommand},
		{name: "invalid utf8", subject: cmd("DeleteUser"), msgID: "h-utf8",
			payload: "{\"user_id\":\"target\",\"actor\":\"\xff\xfe\"}", code: events.CodeMalformedCommand},
		{name: "null", subject: cmd("DeleteUser"), msgID: "h-null",
			payload: `null`, code: events.CodeMalformedCommand},
		{name: "payload too large", subject: cmd("RevokeSessions"), id: "h-huge",
			payload: huge, code: events.CodePayloadTooLarge, userID: "target"},
		{name: "unknown command", subject: cmd("FrobnicateUser"), id: "h-frob",
			payload: `{"command_id":"h-frob","user_id":"target","actor":"admin"}`, code: events.CodeUnknownCommand, userID: "target"},
		{name: "user_id with dot", subject: cmd("DisableUser"), id: "h-dot",
			payload: `{"command_id":"h-dot","user_id":"a.b","actor":"admin"}`, code: events.CodeInvalidUserID},
		{name: "user_id star", subject: cmd("DisableUser"), id: "h-star",
			payload: `{"command_id":"h-star","user_id":"*","actor":"admin"}`, code: events.CodeInvalidUserID},
		{name: "user_id gt", subject: cmd("DeleteUser"), id: "h-gt",
			payload: `{"command_id":"h-gt","user_id":">","actor":"admin"}`, code: events.CodeInvalidUserID},
		{name: "user_id with space", subject: cmd("RevokeSessions"), id: "h-space",
			payload: `{"command_id":"h-space","user_id":"a b","actor":"admin"}`, code: events.CodeInvalidUserID},
		{name: "register user_id with dot", subject: cmd("RegisterUser"), id: "h-regdot",
			payload: `{"command_id":"h-regdot","user_id":"x.y","actor":"admin","email":"xy@example.com"}`, code: events.CodeInvalidUserID},
		{name: "missing user_id", subject: cmd("DisableUser"), id: "h-nouser",
			payload: `{"command_id":"h-nouser","actor":"admin"}`, code: events.CodeInvalidUserID},
		{name: "invalid command_id", subject: cmd("DisableUser"), msgID: "h-badcmdid",
			payload: `{"command_id":"a.b","user_id":"target","actor":"admin"}`, code: events.CodeInvalidCommandID, userID: "target"},
		{name: "missing actor", subject: cmd("DisableUser"), id: "h-noactor",
			payload: `{"command_id":"h-noactor","user_id":"target"}`, code: events.CodeInvalidField, userID: "target"},
		{name: "blank actor", subject: cmd("DisableUser"), id: "h-blankactor",
			payload: `{"command_id":"h-blankactor","user_id":"target","actor":"  "}`, code: events.CodeInvalidField, userID: "target"},
		{name: "reason too long", subject: cmd("DisableUser"), id: "h-longreason",
			payload: longReason, code: events.CodeInvalidField, userID: "target"},
		{name: "missing session_id", subject: cmd("RevokeSession"), id: "h-nosid",
			payload: `{"command_id":"h-nosid","user_id":"target","actor":"admin"}`, code: events.CodeInvalidField, userID: "target"},
		{name: "session_id with space", subject: cmd("RevokeSession"), id: "h-sidspace",
			payload: `{"command_id":"h-sidspace","user_id":"target","actor":"admin","session_id":"s 1"}`, code: events.CodeInvalidField, userID: "target"},
		{name: "session_id is a number", subject: cmd("RevokeSession"), id: "h-sidnum",
			payload: `{"command_id":"h-sidnum","user_id":"target","actor":"admin","session_id":7}`, code: events.CodeMalformedCommand},
		{name: "revoke session of pending user", subject: cmd("RevokeSession"), id: "h-sidpending",
			payload: `{"command_id":"h-sidpending","user_id":"pend","actor":"admin","session_id":"s1"}`, code: events.CodeForbiddenTransition, userID: "pend"},
		{name: "revoke session of deleted user", subject: cmd("RevokeSession"), id: "h-siddeleted",
			payload: `{"command_id":"h-siddeleted","user_id":"gone","actor":"admin","session_id":"s1"}`, code: events.CodeUserDeleted, userID: "gone"},
		{name: "revoke session of unknown user", subject: cmd("RevokeSession"), id: "h-sidnobody",
			payload: `{"command_id":"h-sidnobody","user_id":"nobody","actor":"admin","session_id":"s1"}`, code: events.CodeUnknownUser, userID: "nobody"},
		{name: "invalid email", subject: cmd("RegisterUser"), id: "h-email",
			payload: `{"command_id":"h-email","user_id":"nomail","actor":"admin","email":"Eve <eve@example.com>"}`, code: events.CodeInvalidEmail, userID: "nomail"},
		{name: "email taken", subject: cmd("RegisterUser"), id: "h-taken",
			payload: `{"command_id":"h-taken","user_id":"copycat","actor":"admin","email":"TARGET@example.com"}`, code: events.CodeEmailTaken, userID: "copycat"},
		{name: "user exists", subject: cmd("RegisterUser"), id: "h-exists",
			payload: `{"command_id":"h-exists","user_id":"target","actor":"admin","email":"target2@example.com"}`, code: events.CodeUserExists, userID: "target"},
		{name: "unknown user", subject: cmd("DisableUser"), id: "h-nobody",
			payload: `{"command_id":"h-nobody","user_id":"nobody","actor":"admin"}`, code: events.CodeUnknownUser, userID: "nobody"},
		{name: "disable pending user", subject: cmd("DisableUser"), id: "h-pending",
			payload: `{"command_id":"h-pending","user_id":"pend","actor":"admin"}`, code: events.CodeForbiddenTransition, userID: "pend"},
		{name: "enable pending user", subject: cmd("EnableUser"), id: "h-enpending",
			payload: `{"command_id":"h-enpending","user_id":"pend","actor":"admin"}`, code: events.CodeForbiddenTransition, userID: "pend"},
		{name: "confirm deleted user", subject: cmd("ConfirmUser"), id: "h-deleted",
			payload: `{"command_id":"h-deleted","user_id":"gone","actor":"admin"}`, code: events.CodeUserDeleted, userID: "gone"},
		{name: "revoke deleted user", subject: cmd("RevokeSessions"), id: "h-deleted2",
			payload: `{"command_id":"h-deleted2","user_id":"gone","actor":"admin"}`, code: events.CodeUserDeleted, userID: "gone"},
		{name: "register deleted user id", subject: cmd("RegisterUser"), id: "h-deleted3",
			payload: `{"command_id":"h-deleted3","user_id":"gone","actor":"admin","email":"gone2@example.com"}`, code: events.CodeUserDeleted, userID: "gone"},
	}
	rejectedIDs := map[string]bool{}
	for _, tc := range tests {
		rejectedIDs[tc.id+tc.msgID] = true
	}

	t.Run("cases", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				var got events.Outcome
				want := tc.id
				if tc.msgID != "" {
					want = tc.msgID
					got = e.rawOutcomeWithMsgID(t, tc.subject, tc.msgID, []byte(tc.payload))
				} else {
					got = e.rawOutcome(t, tc.subject, tc.id, []byte(tc.payload))
				}
				if got.Status != events.StatusRejected || got.Code != tc.code || got.Message == "" {
					t.Errorf("got %+v, want rejected with code %s and a message", got, tc.code)
				}
				if got.CommandID != want || got.EventSeq != 0 {
					t.Errorf("got command_id %q event_seq %d, want %q and none", got.CommandID, got.EventSeq, want)
				}
				if tc.userID != "" && got.UserID != tc.userID {
					t.Errorf("got user_id %q, want %q", got.UserID, tc.userID)
				}
				// Still working: a good command right after is accepted.
				e.mustAccept(t, &events.RevokeSessions{CommandMeta: meta("target")})
			})
		}
		t.Run("unknown command over JetStream", func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			_, err := e.js.Publish(ctx, "userlife.cmd.FrobnicateUser", []byte(`{"command_id":"h-frob-js","user_id":"target","actor":"admin"}`))
			if err == nil || !strings.Contains(err.Error(), "unknown command") {
				t.Fatalf("JetStream publish of an unknown command: got error %v, want one mentioning \"unknown command\"", err)
			}
			var apiErr *jetstream.APIError
			if !errors.As(err, &apiErr) {
				t.Errorf("got %T, want a *jetstream.APIError", err)
			}
			if o, err := e.client.Results().Watch("h-frob-js"); err == nil {
				defer o.Close()
				got, err := o.Wait(ctx)
				if err != nil || got.Code != events.CodeUnknownCommand {
					t.Errorf("outcome of the JetStream-published unknown command: got %+v (err %v)", got, err)
				}
			}
			e.mustAccept(t, &events.RevokeSessions{CommandMeta: meta("target")})
		})
	})
	if t.Failed() {
		return
	}

	evs := e.storedEvents(t)
	if got, want := len(evs), setupEvents+len(tests)+1; got != want {
		t.Errorf("events stored: got %d, want %d (setup and one revocation per case)", got, want)
	}
	for _, ev := range evs {
		if rejectedIDs[ev.CommandID] {
			t.Errorf("rejected command %s appended %s at seq %d", ev.CommandID, ev.Type, ev.Seq)
		}
	}
	// Rejected commands are acked: nothing is left to redeliver.
	eventually(t, "the command queue to drain", func() bool { return e.streamMsgs(t, natsadapter.CommandStream) == 0 })
	for _, tc := range tests {
		id := tc.id + tc.msgID
		if n := len(e.outcomes.published(id)); tc.code != events.CodeUnknownCommand && n != 1 {
			t.Errorf("%s: %d outcomes published, want 1", tc.name, n)
		}
	}
}

// A payload that cannot be decoded, sent with no id at all, still gets an
// outcome (under a derived command id), and a copy lands in the poison stream
// with the reason. Domain refusals are not poisoned.
func TestIntakePoisonsUndecodableCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startIntake(t, nil)
	ctx := testContext(t)
	e.confirmedUser(t, "target")

	poison, err := e.js.Stream(ctx, natsadapter.PoisonStream)
	if err != nil {
		t.Fatal(err)
	}
	all, err := e.nc.SubscribeSync(events.ResultSubjectPrefix + ">")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = all.Unsubscribe() }()

	tests := []struct {
		name, subject, payload, code, reason string
	}{
		{"malformed", "userlife.cmd.DisableUser", `{not json`, events.CodeMalformedCommand, events.CodeMalformedCommand},
		{"unknown command", "userlife.cmd.FrobnicateUser", `{"user_id":"target"}`, events.CodeUnknownCommand, "unknown command"},
	}
	for i, tc := range tests {
		e.publishRaw(t, tc.subject, []byte(tc.payload))
		o := nextOutcome(t, all)
		if o.Status != events.StatusRejected || o.Code != tc.code || !events.ValidID(o.CommandID) {
			t.Errorf("%s: got %+v, want rejected %s under a valid derived command id", tc.name, o, tc.code)
		}
		wantCmd := strings.TrimPrefix(tc.subject, events.CommandSubjectPrefix)
		if o.Command != wantCmd {
			t.Errorf("%s: outcome names command %q, want %q", tc.name, o.Command, wantCmd)
		}
		e.checkStoredOutcome(t, o)

		// The copy is stored after the outcome is published.
		eventually(t, tc.name+" in the poison stream", func() bool {
			return e.streamMsgs(t, natsadapter.PoisonStream) == uint64(i+1)
		})
		m, err := poison.GetLastMsgForSubject(ctx, wmintake.PoisonTopic)
		if err != nil {
			t.Fatalf("%s: poison message: %v", tc.name, err)
		}
		if string(m.Data) != tc.payload {
			t.Errorf("%s: poisoned payload: got %q, want %q", tc.name, m.Data, tc.payload)
		}
		if r := m.Header.Get("reason_poisoned"); !strings.Contains(r, tc.reason) {
			t.Errorf("%s: reason_poisoned header: got %q, want it to mention %q (headers %v)", tc.name, r, tc.reason, m.Header)
		}
		if got := m.Header.Get("topic_poisoned"); got != tc.subject {
			t.Errorf("%s: topic_poisoned header: got %q, want %q", tc.name, got, tc.subject)
		}
		if got := m.Header.Get("command_id"); got != o.CommandID {
			t.Errorf("%s: command_id header: got %q, want the outcome's %q", tc.name, got, o.CommandID)
		}
	}

	// A domain refusal is an answer, not poison.
	if o := e.do(t, &events.DisableUser{CommandMeta: meta("nobody")}); o.Code != events.CodeUnknownUser {
		t.Errorf("disable unknown user: got %+v", o)
	}
	e.mustAccept(t, &events.DisableUser{CommandMeta: meta("target")})
	if got := e.streamMsgs(t, natsadapter.PoisonStream); got != uint64(len(tests)) {
		t.Errorf("poison stream holds %d messages, want %d", got, len(tests))
	}
	eventually(t, "the command queue to drain", func() bool { return e.streamMsgs(t, natsadapter.CommandStream) == 0 })
}
