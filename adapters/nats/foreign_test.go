package nats_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
)

// Messages the service did not append can reach an event subject (a
// client's JetStream request with the subject as its reply, see
// docs/security.md). They must not wedge the user: the next command is
// decided on the real events and appended after them.
func TestServiceToleratesForeignMessagesOnEventSubjects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	svc := e.service()
	registerUser(t, svc, "u-x", "x@x.com")
	handle := func(c events.Command) events.Outcome {
		t.Helper()
		o, err := svc.Handle(ctx, c)
		if err != nil {
			t.Fatalf("%s: %v", c.CommandName(), err)
		}
		return o
	}
	meta := func(user, id string) events.CommandMeta {
		return events.CommandMeta{CommandID: id, UserID: user, Actor: "admin"}
	}
	forge := func(subject, payload string) {
		t.Helper()
		if _, err := e.js.Publish(ctx, subject, []byte(payload)); err != nil {
			t.Fatal(err)
		}
	}
	// What a redirected reply looks like, on each kind of subject.
	forge(events.EventSubject("u-x", events.TypeUserEnabled), `{"type":"io.nats.jetstream.api.v1.account_info_response","memory":0}`)
	forge(events.EventSubject("u-x", events.TypeUserRegistered), `{"stream":"USERLIFE_CMD","seq":7}`)
	// A well-formed envelope under the wrong user and type.
	forge(events.EventSubject("u-x", events.TypeUserDeleted), `{"id":"e","type":"UserConfirmed","user_id":"u-other","actor":"x","command_id":"forged","data":{}}`)

	if o := handle(&events.ConfirmUser{CommandMeta: meta("u-x", "c-confirm")}); o.Status != events.StatusAccepted {
		t.Fatalf("confirm after foreign messages: %+v, want accepted", o)
	}
	if o := handle(&events.DisableUser{CommandMeta: meta("u-x", "c-disable")}); o.Status != events.StatusAccepted {
		t.Fatalf("disable: %+v, want accepted", o)
	}
	if o := handle(&events.EnableUser{CommandMeta: meta("u-x", "c-enable")}); o.Status != events.StatusAccepted {
		t.Fatalf("enable: %+v, want accepted (the forged UserEnabled must not count)", o)
	}
	evs, err := e.store.Load(ctx, "u-x")
	if err != nil {
		t.Fatal(err)
	}
	var real []events.Type
	for _, ev := range evs {
		if ev.Data != nil {
			real = append(real, ev.Type)
		}
	}
	if len(real) != 4 || real[3] != events.TypeUserEnabled {
		t.Errorf("real events %v, want registered, confirmed, disabled, enabled", real)
	}

	// A user whose only message is foreign is still unknown, and can be
	// registered.
	forge(events.EventSubject("u-new", events.TypeUserDeleted), `+OK`)
	if o := handle(&events.ConfirmUser{CommandMeta: meta("u-new", "c-new-confirm")}); o.Code != events.CodeUnknownUser {
		t.Errorf("confirm a user with only a foreign message: %+v, want %s", o, events.CodeUnknownUser)
	}
	registerUser(t, svc, "u-new", "new@x.com")

	// An envelope of its own subject with a type this version does not
	// know is not foreign: loading refuses it rather than decide without it.
	forge(events.EventSubjectPrefix+"u-x.UserLocked", `{"id":"e","type":"UserLocked","user_id":"u-x","actor":"x","command_id":"future","data":{}}`)
	if _, err := e.store.Load(ctx, "u-x"); err == nil {
		t.Error("load with an event of an unknown type: no error")
	}
}

// A server reply redirected onto an email claim's key must not lock the
// email: a claim whose owner is no user id is taken over.
func TestServiceTakesOverForeignEmailClaims(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	h := sha256.Sum256([]byte("victim@x.com"))
	if _, err := e.js.Publish(ctx, "$KV."+natsadapter.EmailsBucket+"."+hex.EncodeToString(h[:]), []byte(`{"stream":"USERLIFE_CMD","seq":7}`)); err != nil {
		t.Fatal(err)
	}
	registerUser(t, e.service(), "u-victim", "Victim@x.com")
}

// A message over the server's max payload (1 MiB, as in
// deploy/nats-server.conf) never reaches the command queue.
func TestOversizedCommandRefusedByNATS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	big := []byte(`{"user_id":"u-1","actor":"ops","reason":"` + strings.Repeat("x", 2<<20) + `"}`)
	_, err := e.js.Publish(testContext(t), events.CommandSubject(events.CmdDisableUser), big)
	if !errors.Is(err, nats.ErrMaxPayload) {
		t.Fatalf("publish of %d bytes: %v, want %v", len(big), err, nats.ErrMaxPayload)
	}
	if n := streamMsgs(t, e.js, natsadapter.CommandStream); n != 0 {
		t.Errorf("the command stream holds %d messages, want 0", n)
	}
}
