package domain_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/userlife/userlife/domain"
	"github.com/userlife/userlife/events"
)

// Script bytes for FuzzDecideSequence. The first byte's low bit says
// whether the user is registered first. Every further byte is one step: the
// low 3 bits pick the command (0-6: index into CommandNames; 7: deliver an
// earlier command again, same command_id, or with the high bits at +16s or
// more a RecordDataPurged), the high 5 bits move the clock by -12s to +19s,
// so the clock often goes backwards. A RevokeSession names one of
// sessionIDs and a RecordDataPurged one of purgeServices, picked by the
// high bits too, so both repeat as often as they are new.
const (
	stepRedeliver = 7
	clockBias     = 12
	maxSteps      = 64
	purgeFrom     = 16 + clockBias // high bits from which kind 7 is a receipt
)

var (
	sessionIDs    = []string{"s0", "s1", "s2"}
	purgeServices = []string{"todo", "billing"}
)

func step(kind int, clockSeconds int) byte { return byte(kind) | byte(clockSeconds+clockBias)<<3 }

func FuzzDecideSequence(f *testing.F) {
	const (
		reg, confirm, disable, enable, del, revoke, revoke1 = 0, 1, 2, 3, 4, 5, 6
	)
	seeds := [][]byte{
		{1, step(confirm, 1), step(disable, 1), step(enable, 1), step(revoke, 1), step(del, 1)},
		{1, step(disable, 1), step(revoke, -5), step(del, -10), step(reg, 1), step(confirm, 1)},
		{0, step(confirm, 1), step(reg, 1), step(reg, 1), step(confirm, 0), step(confirm, 0)},
		{1, step(confirm, 1), step(revoke, -12), step(revoke, -12), step(disable, -12), step(del, -12), step(del, 19)},
		{1, step(confirm, 1), step(disable, 1), step(stepRedeliver, 0), step(enable, 1), step(stepRedeliver, 3), step(disable, 1)},
		{1, step(del, 0), step(stepRedeliver, 0), step(reg, 0), step(revoke, 0), step(enable, 0), step(del, 0)},
		// step(revoke1, c) names sessionIDs[(c+clockBias)%3]: -12 → s0, -11 → s1, -10 → s2.
		{1, step(revoke1, -12), step(confirm, 1), step(revoke1, -12), step(revoke1, -12), step(revoke1, -11), step(stepRedeliver, 0)},
		{1, step(confirm, 1), step(revoke1, -10), step(disable, 1), step(revoke1, -10), step(enable, 1), step(revoke1, -10), step(revoke, 1), step(revoke1, -10), step(del, 1), step(revoke1, -11)},
		{1, step(del, 1), step(stepRedeliver, 16), step(stepRedeliver, 17), step(stepRedeliver, 18), step(stepRedeliver, 0), step(stepRedeliver, 19)},
		{1, step(stepRedeliver, 16), step(confirm, 1), step(stepRedeliver, 17), step(del, 1), step(stepRedeliver, 17)},
		{0, step(stepRedeliver, 16)},
		{0},
		{1},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	names := events.CommandNames()
	f.Fuzz(func(t *testing.T, script []byte) {
		// Longer scripts find nothing new and make minimizing slow.
		if len(script) == 0 || len(script) > maxSteps {
			return
		}
		now := t0
		ids := 0
		dec := domain.Decider{
			Now:   func() time.Time { return now },
			NewID: func() string { ids++; return fmt.Sprintf("evt-%d", ids) },
		}
		var (
			u       = domain.Fold(uid, nil)
			seq     uint64
			sent    []events.Command
			applied = make(map[string]uint64) // command_id → seq of its event
		)
		steps := script[1:]
		if script[0]&1 == 1 {
			steps = append([]byte{step(0, 0)}, steps...)
		}
		for i, b := range steps {
			now = now.Add(time.Duration(int(b>>3)-clockBias) * time.Second)
			var cmd events.Command
			if kind := int(b & 7); kind == stepRedeliver && int(b>>3) >= purgeFrom {
				cmd = &events.RecordDataPurged{
					CommandMeta:  meta(uid, fmt.Sprintf("f-%d", i)),
					Service:      purgeServices[int(b>>3)%len(purgeServices)],
					ItemsRemoved: int64(b >> 3),
				}
			} else if kind >= stepRedeliver && len(sent) > 0 {
				cmd = sent[int(b>>3)%len(sent)]
			} else {
				cmd = newCommand(names[kind%len(names)], uid, fmt.Sprintf("f-%d", i))
				if r, ok := cmd.(*events.RevokeSession); ok {
					r.SessionID = sessionIDs[int(b>>3)%len(sessionIDs)]
				}
			}
			sent = append(sent, cmd)
			name, cmdID := cmd.CommandName(), cmd.Meta().CommandID

			prev := u
			// Evolve adds to the user's session index in place: note what
			// was revoked before this step.
			revokedBefore := make(map[string]bool)
			for _, sid := range sessionIDs {
				revokedBefore[sid] = prev.SessionRevoked(sid)
			}
			d, err := dec.Decide(u, cmd)
			where := fmt.Sprintf("step %d: %s (%s) on %q at %v", i, name, cmdID, prev.State, now)

			if err != nil {
				var ce *events.CommandError
				if !errors.As(err, &ce) {
					t.Fatalf("%s: error %v is not a *events.CommandError", where, err)
				}
				if !reflect.DeepEqual(d, domain.Decision{}) {
					t.Fatalf("%s: both a decision %#v and an error %v", where, d, err)
				}
			}
			if len(d.Events) > 1 {
				t.Fatalf("%s: %d events, want at most one", where, len(d.Events))
			}
			if d.Unchanged && (len(d.Events) > 0 || d.AppliedSeq != 0) {
				t.Fatalf("%s: unchanged with events or an applied seq: %#v", where, d)
			}
			if d.AppliedSeq != 0 && len(d.Events) > 0 {
				t.Fatalf("%s: applied already, yet emits %v", where, d.Events)
			}

			// The same command_id never appends twice.
			if wantSeq, ok := applied[cmdID]; ok {
				if err != nil || d.AppliedSeq != wantSeq {
					t.Fatalf("%s: redelivery of a command applied at seq %d = %#v, %v", where, wantSeq, d, err)
				}
				continue
			}
			if d.AppliedSeq != 0 {
				t.Fatalf("%s: AppliedSeq %d for a command never applied", where, d.AppliedSeq)
			}

			// Deleted is terminal: DeleteUser is unchanged, a receipt is
			// recorded, all else refused.
			if prev.State == domain.StateDeleted && name != events.CmdRecordDataPurged {
				var ce *events.CommandError
				switch {
				case name == events.CmdDeleteUser && err == nil && d.Unchanged:
				case errors.As(err, &ce) && ce.Code == events.CodeUserDeleted:
				default:
					t.Fatalf("%s: a deleted user got %#v, %v", where, d, err)
				}
			}
			if p, ok := cmd.(*events.RecordDataPurged); ok {
				checkRecordDataPurged(t, where, prev, p, d, err)
			}

			if r, ok := cmd.(*events.RevokeSession); ok {
				checkRevokeSession(t, where, prev.State, revokedBefore[r.SessionID], d, err)
			}

			u = applyDecision(t, where, prev, d, now, &seq, cmd)
			if len(d.Events) > 0 {
				applied[cmdID] = seq
			}
			// A revoked session stays revoked; only a SessionRevoked for
			// it revokes it.
			for _, sid := range sessionIDs {
				got := u.SessionRevoked(sid)
				want := revokedBefore[sid]
				for _, e := range d.Events {
					if r, ok := e.Data.(events.SessionRevoked); ok && r.SessionID == sid {
						want = true
					}
				}
				if got != want {
					t.Fatalf("%s: SessionRevoked(%q) = %v, want %v", where, sid, got, want)
				}
			}
			if prev.State == domain.StateDeleted && u.State != domain.StateDeleted {
				t.Fatalf("%s: a deleted user became %q", where, u.State)
			}
		}
	})
}

// checkRevokeSession is the RevokeSession row of the transition table:
// refused for a user that is not live or still pending, unchanged for a
// session revoked already, else one SessionRevoked for that session.
func checkRevokeSession(t *testing.T, where string, state domain.State, wasRevoked bool, d domain.Decision, err error) {
	t.Helper()
	var ce *events.CommandError
	switch state {
	case domain.StateNone, domain.StatePending, domain.StateDeleted:
		want := map[domain.State]string{
			domain.StateNone:    events.CodeUnknownUser,
			domain.StatePending: events.CodeForbiddenTransition,
			domain.StateDeleted: events.CodeUserDeleted,
		}[state]
		if !errors.As(err, &ce) || ce.Code != want {
			t.Fatalf("%s: got %#v, %v; want code %q", where, d, err, want)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v, want accepted or unchanged", where, err)
	}
	if wasRevoked != d.Unchanged {
		t.Fatalf("%s: session revoked before: %v, decision %#v; want unchanged exactly when it was", where, wasRevoked, d)
	}
	if !d.Unchanged && (len(d.Events) != 1 || d.Events[0].Type != events.TypeSessionRevoked) {
		t.Fatalf("%s: decision %#v, want one SessionRevoked", where, d)
	}
}

// checkRecordDataPurged is the RecordDataPurged row: refused for a user
// that is not deleted, unchanged for a service that gave its receipt
// already, else one UserDataPurged that leaves the user deleted.
func checkRecordDataPurged(t *testing.T, where string, prev domain.User, c *events.RecordDataPurged, d domain.Decision, err error) {
	t.Helper()
	var ce *events.CommandError
	switch prev.State {
	case domain.StateDeleted:
	case domain.StateNone:
		if !errors.As(err, &ce) || ce.Code != events.CodeUnknownUser {
			t.Fatalf("%s: got %#v, %v; want unknown_user", where, d, err)
		}
		return
	default:
		if !errors.As(err, &ce) || ce.Code != events.CodeForbiddenTransition {
			t.Fatalf("%s: got %#v, %v; want forbidden_transition", where, d, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v, want accepted or unchanged", where, err)
	}
	_, had := prev.DataPurged(c.Service)
	if had != d.Unchanged {
		t.Fatalf("%s: receipt of %s given before: %v, decision %#v; want unchanged exactly when it was", where, c.Service, had, d)
	}
	want := events.UserDataPurged{Service: c.Service, ItemsRemoved: c.ItemsRemoved}
	if !had && (len(d.Events) != 1 || d.Events[0].Data != want) {
		t.Fatalf("%s: decision %#v, want one %#v", where, d, want)
	}
}

// applyDecision checks d's events against prev and folds them in.
func applyDecision(t *testing.T, where string, prev domain.User, d domain.Decision, now time.Time, seq *uint64, cmd events.Command) domain.User {
	t.Helper()
	u := prev
	for _, e := range d.Events {
		if u.State == domain.StatePending && e.Type == events.TypeUserDisabled {
			t.Fatalf("%s: a pending user was disabled", where)
		}
		if e.UserID != uid || e.CommandID != cmd.Meta().CommandID || e.Actor != cmd.Meta().Actor {
			t.Fatalf("%s: event %#v does not carry the command's user, id and actor", where, e)
		}
		if rb, ok := e.RevokedBefore(); ok {
			want := now.UTC()
			if !now.After(u.RevokedBefore) && !u.RevokedBefore.IsZero() {
				want = u.RevokedBefore.Add(time.Microsecond)
			}
			if !rb.Equal(want) {
				t.Fatalf("%s: revoked_before %v, want %v (clock %v, last revocation %v)", where, rb, want, now, u.RevokedBefore)
			}
			if !rb.After(u.RevokedBefore) {
				t.Fatalf("%s: revoked_before %v is not after the last revocation %v", where, rb, u.RevokedBefore)
			}
		}
		// Whatever the decider emits must survive the wire.
		b, err := events.Encode(e)
		if err != nil {
			t.Fatalf("%s: Encode: %v", where, err)
		}
		wire, err := events.Decode(b)
		if err != nil || !reflect.DeepEqual(wire, e) {
			t.Fatalf("%s: wire round trip = %#v, %v; want %#v", where, wire, err, e)
		}

		*seq++
		e.Seq = *seq
		next := domain.Evolve(u, e)
		if next.Version <= u.Version {
			t.Fatalf("%s: version %d after %s, was %d", where, next.Version, e.Type, u.Version)
		}
		if next.RevokedBefore.Before(u.RevokedBefore) {
			t.Fatalf("%s: revoked_before moved back from %v to %v", where, u.RevokedBefore, next.RevokedBefore)
		}
		u = next
	}
	return u
}
