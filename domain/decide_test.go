package domain_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/userlife/userlife/domain"
	"github.com/userlife/userlife/events"
)

const uid = "u-1"

// revokedAt is the revoked_before of the histories below.
var revokedAt = t0.Add(2 * time.Minute)

// stateHistories builds each state the way the service does: by folding
// events with Evolve.
func stateHistories() map[domain.State][]events.Event {
	registered := events.UserRegistered{Email: "ada@example.com"}
	return map[domain.State][]events.Event{
		domain.StateNone:      nil,
		domain.StatePending:   history(uid, registered),
		domain.StateConfirmed: history(uid, registered, events.UserConfirmed{}),
		domain.StateDisabled:  history(uid, registered, events.UserConfirmed{}, events.UserDisabled{RevokedBefore: revokedAt}),
		domain.StateDeleted:   history(uid, registered, events.UserConfirmed{}, events.UserDeleted{RevokedBefore: revokedAt}),
	}
}

func TestStateHistories(t *testing.T) {
	t.Parallel()
	for want, evs := range stateHistories() {
		u := domain.Fold(uid, evs)
		if u.State != want {
			t.Errorf("Fold(%d events).State = %q, want %q", len(evs), u.State, want)
		}
		if got, want := u.Version, uint64(len(evs)); got != want {
			t.Errorf("state %q: Version = %d, want %d", u.State, got, want)
		}
	}
}

// result kinds of a decision.
const (
	emits     = "emits"
	unchanged = "unchanged"
	rejected  = "rejected"
)

type outcome struct {
	kind      string
	event     events.Type  // when emits
	code      string       // when rejected
	nextState domain.State // when emits
}

func emit(t events.Type, next domain.State) outcome {
	return outcome{kind: emits, event: t, nextState: next}
}
func same() outcome              { return outcome{kind: unchanged} }
func reject(code string) outcome { return outcome{kind: rejected, code: code} }

// TestDecideEveryStateAndCommand is the transition table of DESIGN.md,
// "Domain rules", for every (state, command) pair.
func TestDecideEveryStateAndCommand(t *testing.T) {
	t.Parallel()
	var (
		reg     = events.CmdRegisterUser
		confirm = events.CmdConfirmUser
		disable = events.CmdDisableUser
		enable  = events.CmdEnableUser
		del     = events.CmdDeleteUser
		revoke  = events.CmdRevokeSessions
		revoke1 = events.CmdRevokeSession
		purged  = events.CmdRecordDataPurged
	)
	table := map[domain.State]map[string]outcome{
		domain.StateNone: {
			reg:     emit(events.TypeUserRegistered, domain.StatePending),
			confirm: reject(events.CodeUnknownUser),
			disable: reject(events.CodeUnknownUser),
			enable:  reject(events.CodeUnknownUser),
			del:     reject(events.CodeUnknownUser),
			revoke:  reject(events.CodeUnknownUser),
			revoke1: reject(events.CodeUnknownUser),
			purged:  reject(events.CodeUnknownUser),
		},
		domain.StatePending: {
			reg:     reject(events.CodeUserExists),
			confirm: emit(events.TypeUserConfirmed, domain.StateConfirmed),
			disable: reject(events.CodeForbiddenTransition), // only deleted, never disabled
			enable:  reject(events.CodeForbiddenTransition),
			del:     emit(events.TypeUserDeleted, domain.StateDeleted),
			revoke:  emit(events.TypeSessionsRevoked, domain.StatePending),
			revoke1: reject(events.CodeForbiddenTransition), // not signed in yet: no session
			purged:  reject(events.CodeForbiddenTransition), // only a deleted user's data is purged,
		},
		domain.StateConfirmed: {
			reg:     reject(events.CodeUserExists),
			confirm: same(),
			disable: emit(events.TypeUserDisabled, domain.StateDisabled),
			enable:  same(),
			del:     emit(events.TypeUserDeleted, domain.StateDeleted),
			revoke:  emit(events.TypeSessionsRevoked, domain.StateConfirmed),
			revoke1: emit(events.TypeSessionRevoked, domain.StateConfirmed),
			purged:  reject(events.CodeForbiddenTransition),
		},
		domain.StateDisabled: {
			reg:     reject(events.CodeUserExists),
			confirm: same(), // it was confirmed; confirming does not enable
			disable: same(),
			enable:  emit(events.TypeUserEnabled, domain.StateConfirmed),
			del:     emit(events.TypeUserDeleted, domain.StateDeleted),
			revoke:  emit(events.TypeSessionsRevoked, domain.StateDisabled),
			revoke1: emit(events.TypeSessionRevoked, domain.StateDisabled),
			purged:  reject(events.CodeForbiddenTransition),
		},
		domain.StateDeleted: {
			reg:     reject(events.CodeUserDeleted), // an id is never reused
			confirm: reject(events.CodeUserDeleted),
			disable: reject(events.CodeUserDeleted),
			enable:  reject(events.CodeUserDeleted),
			del:     same(),
			revoke:  reject(events.CodeUserDeleted),
			revoke1: reject(events.CodeUserDeleted),
			purged:  emit(events.TypeUserDataPurged, domain.StateDeleted), // a receipt; still deleted,
		},
	}
	histories := stateHistories()
	if got, want := len(table), len(histories); got != want {
		t.Fatalf("table has %d states, want %d", got, want)
	}
	// The decision time is after every revocation in the histories.
	now := t0.Add(time.Hour)
	for state, row := range table {
		if got, want := len(row), len(events.CommandNames()); got != want {
			t.Fatalf("state %q: %d commands in the table, want %d", state, got, want)
		}
		for name, want := range row {
			t.Run(stateName(state)+"/"+name, func(t *testing.T) {
				t.Parallel()
				u := domain.Fold(uid, histories[state])
				td := &testDecider{now: now}
				cmd := newCommand(name, uid, "cmd-new")
				d, err := td.decider().Decide(u, cmd)
				checkDecision(t, u, cmd, d, err, want, now)
				if want.kind != emits && (td.clockUse != 0 || td.ids != 0) {
					t.Errorf("a decision without events read the clock %d times and drew %d ids, want 0", td.clockUse, td.ids)
				}
				if want.kind == emits && (td.clockUse != 1 || td.ids != 1) {
					t.Errorf("read the clock %d times and drew %d ids, want 1 each", td.clockUse, td.ids)
				}
			})
		}
	}
}

// stateName names StateNone, which is the empty string, in test names.
func stateName(s domain.State) string {
	if s == domain.StateNone {
		return "none"
	}
	return string(s)
}

func checkDecision(t *testing.T, u domain.User, cmd events.Command, d domain.Decision, err error, want outcome, now time.Time) {
	t.Helper()
	switch want.kind {
	case rejected:
		var ce *events.CommandError
		if !errors.As(err, &ce) {
			t.Fatalf("Decide error = %v, want a *events.CommandError with code %q", err, want.code)
		}
		if ce.Code != want.code {
			t.Errorf("code = %q, want %q (%s)", ce.Code, want.code, ce.Message)
		}
		if !reflect.DeepEqual(d, domain.Decision{}) {
			t.Errorf("a rejection came with decision %#v, want none", d)
		}
		return
	case unchanged:
		if err != nil {
			t.Fatalf("Decide: %v, want unchanged", err)
		}
		if !d.Unchanged || len(d.Events) != 0 || d.AppliedSeq != 0 || d.Message == "" {
			t.Errorf("decision = %#v, want Unchanged with a message and no events", d)
		}
		return
	}
	if err != nil {
		t.Fatalf("Decide: %v, want a %s event", err, want.event)
	}
	if d.Unchanged || d.AppliedSeq != 0 || len(d.Events) != 1 {
		t.Fatalf("decision = %#v, want exactly one %s event", d, want.event)
	}
	e := d.Events[0]
	m := cmd.Meta()
	wantEvent := events.Event{
		ID: "evt-1", Type: want.event, UserID: uid, OccurredAt: now,
		Actor: m.Actor, Reason: m.Reason, CommandID: m.CommandID, CorrelationID: m.CorrelationID,
	}
	switch want.event {
	case events.TypeUserRegistered:
		wantEvent.Data = events.UserRegistered{Email: cmd.(*events.RegisterUser).Email}
	case events.TypeUserConfirmed:
		wantEvent.Data = events.UserConfirmed{}
	case events.TypeUserDisabled:
		wantEvent.Data = events.UserDisabled{RevokedBefore: now}
	case events.TypeUserEnabled:
		wantEvent.Data = events.UserEnabled{}
	case events.TypeUserDeleted:
		wantEvent.Data = events.UserDeleted{RevokedBefore: now}
	case events.TypeSessionsRevoked:
		wantEvent.Data = events.SessionsRevoked{RevokedBefore: now}
	case events.TypeSessionRevoked:
		wantEvent.Data = events.SessionRevoked{SessionID: cmd.(*events.RevokeSession).SessionID}
	case events.TypeUserDataPurged:
		c := cmd.(*events.RecordDataPurged)
		wantEvent.Data = events.UserDataPurged{Service: c.Service, ItemsRemoved: c.ItemsRemoved}
	}
	if !reflect.DeepEqual(e, wantEvent) {
		t.Errorf("event:\ngot:  %#v\nwant: %#v", e, wantEvent)
	}
	e.Seq = u.Version + 1
	next := domain.Evolve(u, e)
	if next.State != want.nextState {
		t.Errorf("state after %s = %q, want %q", e.Type, next.State, want.nextState)
	}
	if next.Version != e.Seq {
		t.Errorf("version after %s = %d, want %d", e.Type, next.Version, e.Seq)
	}
	if rb, ok := e.RevokedBefore(); ok && !next.RevokedBefore.Equal(rb) {
		t.Errorf("user.RevokedBefore after %s = %v, want %v", e.Type, next.RevokedBefore, rb)
	}
	if r, ok := cmd.(*events.RevokeSession); ok {
		if !next.SessionRevoked(r.SessionID) {
			t.Errorf("SessionRevoked(%q) after %s = false, want true", r.SessionID, e.Type)
		}
		if !next.RevokedBefore.Equal(u.RevokedBefore) {
			t.Errorf("user.RevokedBefore after %s = %v, want it unchanged at %v", e.Type, next.RevokedBefore, u.RevokedBefore)
		}
	}
}

// TestRevokedBeforeNeverMovesBack: a revocation is stamped with the
// decision time, unless the clock is at or behind the user's last
// revocation (clock skew between service instances, NTP step): then it
// lands just after, so a later revocation never shortens an earlier one.
func TestRevokedBeforeNeverMovesBack(t *testing.T) {
	t.Parallel()
	last := time.Date(2025, 3, 14, 12, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name string
		now  time.Time
		want time.Time
	}{
		{"clock ahead", last.Add(time.Second), last.Add(time.Second)},
		{"clock equal", last, last.Add(time.Microsecond)},
		{"clock an hour behind", last.Add(-time.Hour), last.Add(time.Microsecond)},
		{"clock in another zone, ahead", last.Add(time.Minute).In(time.FixedZone("X", -5*3600)), last.Add(time.Minute)},
	}
	commands := []string{events.CmdDisableUser, events.CmdDeleteUser, events.CmdRevokeSessions}
	for _, tt := range tests {
		for _, name := range commands {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				u := domain.Fold(uid, history(uid,
					events.UserRegistered{Email: "ada@example.com"},
					events.UserConfirmed{},
					events.SessionsRevoked{RevokedBefore: last},
				))
				td := &testDecider{now: tt.now}
				d, err := td.decider().Decide(u, newCommand(name, uid, "cmd-new"))
				if err != nil || len(d.Events) != 1 {
					t.Fatalf("Decide = %#v, %v; want one event", d, err)
				}
				got, ok := d.Events[0].RevokedBefore()
				if !ok {
					t.Fatalf("%s carries no revoked_before", d.Events[0].Type)
				}
				if got != tt.want {
					t.Errorf("revoked_before = %v, want %v", got, tt.want)
				}
				if got.Location() != time.UTC {
					t.Errorf("revoked_before is in %v, want UTC", got.Location())
				}
				if !d.Events[0].OccurredAt.Equal(got) {
					t.Errorf("occurred_at %v, want the revocation instant %v", d.Events[0].OccurredAt, got)
				}
			})
		}
	}
}

// TestRevocationsAccumulate folds a revocation stamped earlier than one
// already applied (an out-of-order history): the user keeps the later.
func TestRevocationsAccumulate(t *testing.T) {
	t.Parallel()
	early, late := t0.Add(time.Minute), t0.Add(time.Hour)
	u := domain.Fold(uid, history(uid,
		events.UserRegistered{Email: "ada@example.com"},
		events.UserConfirmed{},
		events.SessionsRevoked{RevokedBefore: late},
		events.UserDisabled{RevokedBefore: early},
	))
	if u.RevokedBefore != late {
		t.Errorf("RevokedBefore = %v, want %v", u.RevokedBefore, late)
	}
	if u.State != domain.StateDisabled {
		t.Errorf("State = %q, want %q", u.State, domain.StateDisabled)
	}
}

// TestDeletedIsTerminal: whatever arrives after a delete, from pending or
// from any other state, the user stays deleted and the id is never
// registered again. The one command a deleted user takes is a downstream
// service's erasure receipt, which leaves it deleted.
func TestDeletedIsTerminal(t *testing.T) {
	t.Parallel()
	paths := map[string][]events.Payload{
		"from pending":   {events.UserRegistered{Email: "a@example.com"}},
		"from confirmed": {events.UserRegistered{Email: "a@example.com"}, events.UserConfirmed{}},
		"from disabled":  {events.UserRegistered{Email: "a@example.com"}, events.UserConfirmed{}, events.UserDisabled{RevokedBefore: t0}},
	}
	for pathName, before := range paths {
		t.Run(pathName, func(t *testing.T) {
			t.Parallel()
			ps := append(before, events.UserDeleted{RevokedBefore: revokedAt})
			u := domain.Fold(uid, history(uid, ps...))
			td := &testDecider{now: t0.Add(time.Hour)}
			dec := td.decider()
			for _, name := range events.CommandNames() {
				d, err := dec.Decide(u, newCommand(name, uid, "cmd-"+name))
				if name == events.CmdDeleteUser {
					if err != nil || !d.Unchanged || len(d.Events) != 0 {
						t.Errorf("%s on a deleted user = %#v, %v; want unchanged", name, d, err)
					}
					continue
				}
				if name == events.CmdRecordDataPurged {
					if err != nil || len(d.Events) != 1 {
						t.Fatalf("%s on a deleted user = %#v, %v; want one UserDataPurged", name, d, err)
					}
					d.Events[0].Seq = u.Version + 1
					if after := domain.Evolve(u, d.Events[0]); after.State != domain.StateDeleted || after.State.Live() {
						t.Errorf("after UserDataPurged the user is %q, want still deleted", after.State)
					}
					continue
				}
				var ce *events.CommandError
				if !errors.As(err, &ce) || ce.Code != events.CodeUserDeleted {
					t.Errorf("%s on a deleted user: error %v, want code %q", name, err, events.CodeUserDeleted)
				}
				if len(d.Events) != 0 {
					t.Errorf("%s on a deleted user emitted %v", name, d.Events)
				}
			}
		})
	}
}

// TestRecordDataPurged: a service's first receipt for a deleted user is
// recorded; a second from the same service, whatever count it reports, is
// unchanged and the first receipt stays; another service is recorded on its
// own.
func TestRecordDataPurged(t *testing.T) {
	t.Parallel()
	u := domain.Fold(uid, history(uid,
		events.UserRegistered{Email: "ada@example.com"},
		events.UserDeleted{RevokedBefore: revokedAt},
		events.UserDataPurged{Service: "todo", ItemsRemoved: 3}, // seq 3, at t0+2m
	))
	if u.State != domain.StateDeleted {
		t.Fatalf("state = %q, want deleted", u.State)
	}
	p, ok := u.DataPurged("todo")
	if want := (domain.Purge{ItemsRemoved: 3, At: t0.Add(2 * time.Minute), Seq: 3}); !ok || p != want {
		t.Errorf("DataPurged(todo) = %+v, %v; want %+v, true", p, ok, want)
	}
	if _, ok := u.DataPurged("billing"); ok {
		t.Error("DataPurged(billing) reports a receipt billing never gave")
	}
	td := &testDecider{now: t0.Add(time.Hour)}
	for _, n := range []int64{3, 0, 7} {
		cmd := &events.RecordDataPurged{CommandMeta: meta(uid, fmt.Sprintf("again-%d", n)), Service: "todo", ItemsRemoved: n}
		d, err := td.decider().Decide(u, cmd)
		if err != nil || !d.Unchanged || len(d.Events) != 0 || !strings.Contains(d.Message, "3 items") {
			t.Errorf("todo again with %d items = %#v, %v; want unchanged naming the first receipt (3 items)", n, d, err)
		}
	}
	cmd := &events.RecordDataPurged{CommandMeta: meta(uid, "billing-1"), Service: "billing", ItemsRemoved: 0}
	d, err := td.decider().Decide(u, cmd)
	if err != nil || len(d.Events) != 1 {
		t.Fatalf("billing = %#v, %v; want one event", d, err)
	}
	want := events.UserDataPurged{Service: "billing", ItemsRemoved: 0}
	if d.Events[0].Data != want {
		t.Errorf("billing event data = %#v, want %#v", d.Events[0].Data, want)
	}
	d.Events[0].Seq = 4
	next := domain.Evolve(u, d.Events[0])
	if _, ok := next.DataPurged("billing"); !ok || next.State != domain.StateDeleted || next.Version != 4 {
		t.Errorf("after billing's receipt: state %q, version %d, billing recorded %v", next.State, next.Version, ok)
	}
	// A second UserDataPurged of one service in a history (written by
	// hand, the decider never emits one) does not replace the first.
	dup := domain.Evolve(next, events.Event{Type: events.TypeUserDataPurged, UserID: uid, Seq: 5, OccurredAt: t0.Add(2 * time.Hour),
		Data: events.UserDataPurged{Service: "todo", ItemsRemoved: 99}})
	if p, _ := dup.DataPurged("todo"); p.ItemsRemoved != 3 || dup.Version != 5 {
		t.Errorf("after a second todo receipt: %+v at version %d, want the first (3 items) at version 5", p, dup.Version)
	}
}

// TestDecideRedelivery: a command whose command_id is in the history was
// applied already; deciding it again appends nothing, whatever the state
// is now.
func TestDecideRedelivery(t *testing.T) {
	t.Parallel()
	evs := history(uid,
		events.UserRegistered{Email: "ada@example.com"}, // hist-1
		events.UserConfirmed{},                          // hist-2
		events.UserDisabled{RevokedBefore: revokedAt},   // hist-3
		events.UserEnabled{},                            // hist-4
		events.UserDeleted{RevokedBefore: revokedAt},    // hist-5
	)
	withReceipt := history(uid, append(payloads(evs), events.UserDataPurged{Service: "todo", ItemsRemoved: 3})...) // hist-6
	tests := []struct {
		name      string
		history   []events.Event
		command   string
		commandID string
		wantSeq   uint64
	}{
		{"register again", evs[:1], events.CmdRegisterUser, "hist-1", 1},
		{"confirm again", evs[:2], events.CmdConfirmUser, "hist-2", 2},
		{"disable again after an enable", evs[:4], events.CmdDisableUser, "hist-3", 3},
		{"register again after delete", evs, events.CmdRegisterUser, "hist-1", 1},
		{"delete again", evs, events.CmdDeleteUser, "hist-5", 5},
		{"receipt again", withReceipt, events.CmdRecordDataPurged, "hist-6", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := domain.Fold(uid, tt.history)
			td := &testDecider{now: t0.Add(time.Hour)}
			d, err := td.decider().Decide(u, newCommand(tt.command, uid, tt.commandID))
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if want := (domain.Decision{AppliedSeq: tt.wantSeq}); !reflect.DeepEqual(d, want) {
				t.Errorf("decision = %#v, want %#v", d, want)
			}
			if td.clockUse != 0 || td.ids != 0 {
				t.Errorf("a redelivery read the clock %d times and drew %d ids, want 0", td.clockUse, td.ids)
			}
		})
	}
}

func TestEvolve(t *testing.T) {
	t.Parallel()
	evs := history(uid,
		events.UserRegistered{Email: "Ada@Example.com"},
		events.UserConfirmed{},
		events.UserDisabled{RevokedBefore: revokedAt},
		events.UserEnabled{},
		events.SessionsRevoked{RevokedBefore: revokedAt.Add(time.Hour)},
	)
	u := domain.Fold(uid, evs)
	want := domain.User{
		ID: uid, Email: "Ada@Example.com", State: domain.StateConfirmed, Version: 5,
		RegisteredAt: evs[0].OccurredAt, ConfirmedAt: evs[1].OccurredAt,
		RevokedBefore: revokedAt.Add(time.Hour),
	}
	// commands is unexported: compare it through AppliedCommand.
	for i, e := range evs {
		seq, ok := u.AppliedCommand(e.CommandID)
		if !ok || seq != uint64(i+1) {
			t.Errorf("AppliedCommand(%q) = %d, %v; want %d, true", e.CommandID, seq, ok, i+1)
		}
	}
	if _, ok := u.AppliedCommand("never-sent"); ok {
		t.Error("AppliedCommand(unknown id) reports applied")
	}
	if _, ok := u.AppliedCommand(""); ok {
		t.Error(`AppliedCommand("") reports applied`)
	}
	if got := stripCommands(u); !reflect.DeepEqual(got, want) {
		t.Errorf("Fold:\ngot:  %+v\nwant: %+v", got, want)
	}

	deleted := domain.Evolve(u, events.Event{Type: events.TypeUserDeleted, UserID: uid, OccurredAt: t0.Add(2 * time.Hour), Seq: 9,
		Data: events.UserDeleted{RevokedBefore: t0.Add(2 * time.Hour)}})
	if deleted.State != domain.StateDeleted || deleted.DeletedAt != t0.Add(2*time.Hour) || deleted.Version != 9 {
		t.Errorf("after UserDeleted: %+v", stripCommands(deleted))
	}
	if deleted.State.Live() || !u.State.Live() || domain.StateNone.Live() {
		t.Error("Live() is wrong for deleted, confirmed or none")
	}
}

// TestEvolveUnknownPayload: an event type this version does not know only
// moves the version, so an old service keeps folding a newer stream.
func TestEvolveUnknownPayload(t *testing.T) {
	t.Parallel()
	u := domain.Fold(uid, history(uid, events.UserRegistered{Email: "a@example.com"}))
	next := domain.Evolve(u, events.Event{Type: "UserRenamed", UserID: uid, Seq: 7, Data: renamed{}})
	if next.State != domain.StatePending || next.Version != 7 || next.Email != "a@example.com" {
		t.Errorf("after an unknown event: %+v", stripCommands(next))
	}
}

type renamed struct{}

func (renamed) EventType() events.Type { return "UserRenamed" }

// stripCommands drops the unexported command and session indexes so Users
// compare with reflect.DeepEqual.
func stripCommands(u domain.User) domain.User {
	return domain.User{
		ID: u.ID, Email: u.Email, State: u.State, Version: u.Version,
		RegisteredAt: u.RegisteredAt, ConfirmedAt: u.ConfirmedAt, DisabledAt: u.DisabledAt,
		DeletedAt: u.DeletedAt, RevokedBefore: u.RevokedBefore,
	}
}
