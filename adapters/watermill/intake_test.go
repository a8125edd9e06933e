package watermill_test

import (
	"testing"

	"github.com/google/uuid"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
)

// Commands published as plain JSON with a core publish and no headers (what
// `nats pub` sends) are decided, answered and stored.
func TestIntakeHandlesPlainJSONCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startIntake(t, nil)
	ctx := testContext(t)

	reg := e.rawOutcome(t, "userlife.cmd.RegisterUser", "reg-alice",
		jsonf(`{"command_id":"reg-alice","user_id":"alice","actor":"admin","email":"alice@example.com"}`))
	if reg.Status != events.StatusAccepted || reg.UserID != "alice" || reg.EventSeq == 0 || reg.Command != events.CmdRegisterUser {
		t.Fatalf("register with user_id: got %+v, want accepted for alice with an event_seq", reg)
	}

	// Without user_id the service derives one and says which.
	reg2 := e.rawOutcome(t, "userlife.cmd.RegisterUser", "reg-bob",
		jsonf(`{"command_id":"reg-bob","actor":"admin","email":"bob@example.com"}`))
	if reg2.Status != events.StatusAccepted || reg2.EventSeq <= reg.EventSeq {
		t.Fatalf("register without user_id: got %+v, want accepted after seq %d", reg2, reg.EventSeq)
	}
	if !events.ValidID(reg2.UserID) {
		t.Fatalf("derived user_id %q is not a valid id", reg2.UserID)
	}
	if u, err := uuid.Parse(reg2.UserID); err != nil || u.Version() != 7 {
		t.Errorf("derived user_id %q: want a UUIDv7 (err %v)", reg2.UserID, err)
	}
	bob := reg2.UserID

	conf := e.rawOutcome(t, "userlife.cmd.ConfirmUser", "conf-bob",
		jsonf(`{"command_id":"conf-bob","user_id":%q,"actor":"admin"}`, bob))
	if conf.Status != events.StatusAccepted || conf.EventSeq <= reg2.EventSeq || conf.UserID != bob {
		t.Fatalf("confirm: got %+v, want accepted after seq %d", conf, reg2.EventSeq)
	}
	dis := e.rawOutcome(t, "userlife.cmd.DisableUser", "dis-bob",
		jsonf(`{"command_id":"dis-bob","user_id":%q,"actor":"ops@example.com","reason":"abuse report 42"}`, bob))
	if dis.Status != events.StatusAccepted || dis.EventSeq <= conf.EventSeq || dis.UserID != bob {
		t.Fatalf("disable: got %+v, want accepted after seq %d", dis, conf.EventSeq)
	}

	s, err := e.js.Stream(ctx, natsadapter.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(ctx, events.EventSubject(bob, events.TypeUserDisabled))
	if err != nil {
		t.Fatalf("no UserDisabled event stored for %s: %v", bob, err)
	}
	if m.Sequence != dis.EventSeq {
		t.Errorf("UserDisabled stored at seq %d, outcome says %d", m.Sequence, dis.EventSeq)
	}
	ev, err := events.Decode(m.Data)
	if err != nil {
		t.Fatalf("decode stored event: %v", err)
	}
	if ev.Type != events.TypeUserDisabled || ev.UserID != bob || ev.CommandID != "dis-bob" ||
		ev.Actor != "ops@example.com" || ev.Reason != "abuse report 42" {
		t.Errorf("stored event: got %+v", ev)
	}
	if p, ok := ev.Data.(events.UserDisabled); !ok || p.RevokedBefore.IsZero() {
		t.Errorf("stored payload: got %#v, want UserDisabled with revoked_before", ev.Data)
	}
	if got, want := m.Header.Get(events.HeaderCEType), "io.userlife.UserDisabled"; got != want {
		t.Errorf("ce-type header: got %q, want %q", got, want)
	}

	// One session of the disabled user, revoked; the same session again is
	// unchanged and appends nothing.
	rev := e.rawOutcome(t, "userlife.cmd.RevokeSession", "rev1-bob",
		jsonf(`{"command_id":"rev1-bob","user_id":%q,"actor":"ops@example.com","reason":"phone lost","session_id":"sid-7f3a"}`, bob))
	if rev.Status != events.StatusAccepted || rev.EventSeq <= dis.EventSeq || rev.UserID != bob || rev.Command != events.CmdRevokeSession {
		t.Fatalf("revoke session: got %+v, want accepted after seq %d", rev, dis.EventSeq)
	}
	m, err = s.GetLastMsgForSubject(ctx, "userlife.events."+bob+".SessionRevoked")
	if err != nil {
		t.Fatalf("no SessionRevoked event stored for %s: %v", bob, err)
	}
	if m.Sequence != rev.EventSeq {
		t.Errorf("SessionRevoked stored at seq %d, outcome says %d", m.Sequence, rev.EventSeq)
	}
	ev, err = events.Decode(m.Data)
	if err != nil {
		t.Fatalf("decode stored event: %v", err)
	}
	if ev.Type != events.TypeSessionRevoked || ev.UserID != bob || ev.CommandID != "rev1-bob" || ev.Reason != "phone lost" {
		t.Errorf("stored event: got %+v", ev)
	}
	if got, want := ev.Data, (events.SessionRevoked{SessionID: "sid-7f3a"}); got != want {
		t.Errorf("stored payload: got %#v, want %#v", got, want)
	}
	if got, want := m.Header.Get(events.HeaderCEType), "io.userlife.SessionRevoked"; got != want {
		t.Errorf("ce-type header: got %q, want %q", got, want)
	}
	again := e.rawOutcome(t, "userlife.cmd.RevokeSession", "rev2-bob",
		jsonf(`{"command_id":"rev2-bob","user_id":%q,"actor":"ops@example.com","session_id":"sid-7f3a"}`, bob))
	if again.Status != events.StatusUnchanged || again.Message == "" || again.EventSeq != rev.EventSeq {
		t.Errorf("revoke the same session again: got %+v, want unchanged at seq %d with a message", again, rev.EventSeq)
	}

	// Neither command_id nor user_id: both are derived, and the outcome
	// names them.
	all, err := e.nc.SubscribeSync(events.ResultSubjectPrefix + ">")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = all.Unsubscribe() }()
	e.publishRaw(t, "userlife.cmd.RegisterUser", jsonf(`{"actor":"admin","email":"carol@example.com"}`))
	reg3 := nextOutcome(t, all)
	if reg3.Status != events.StatusAccepted || !events.ValidID(reg3.CommandID) || !events.ValidID(reg3.UserID) || reg3.UserID == bob {
		t.Fatalf("register with no ids: got %+v, want accepted with derived ids", reg3)
	}
	e.checkStoredOutcome(t, reg3)

	var types []events.Type
	for _, ev := range e.storedEvents(t) {
		if ev.UserID == bob {
			types = append(types, ev.Type)
		}
	}
	if want := []events.Type{events.TypeUserRegistered, events.TypeUserConfirmed, events.TypeUserDisabled, events.TypeSessionRevoked}; !equalTypes(types, want) {
		t.Errorf("events of %s: got %v, want %v", bob, types, want)
	}
}

func equalTypes(a, b []events.Type) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
