package projections_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// Rows before an event, as the earlier events left them.
var (
	pending   = projections.User{ID: uid, Email: "Ada@Example.com", State: projections.StatePending, RegisteredAt: t0, Version: 1, UpdatedAt: t0}
	confirmed = projections.User{ID: uid, Email: "Ada@Example.com", State: projections.StateConfirmed, RegisteredAt: t0, ConfirmedAt: t1, Version: 2, UpdatedAt: t1}
	disabled  = projections.User{ID: uid, Email: "Ada@Example.com", State: projections.StateDisabled, RegisteredAt: t0, ConfirmedAt: t1, DisabledAt: t2, RevokedBefore: t2, Version: 3, UpdatedAt: t2}
)

func TestReduceUser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cur  *projections.User
		seq  uint64
		json string
		want *projections.User // nil: row removed
	}{
		{"register creates a pending row", nil, 1,
			envelope(events.TypeUserRegistered, t0, `{"email":"Ada@Example.com"}`), &pending},
		{"confirm", ptr(pending), 2,
			envelope(events.TypeUserConfirmed, t1, `{}`), &confirmed},
		{"disable stamps disabled_at and revoked_before", ptr(confirmed), 3,
			envelope(events.TypeUserDisabled, t2, revoking(t2)), &disabled},
		{"disable never moves revoked_before back", ptr(with(confirmed, func(u *projections.User) { u.RevokedBefore = t3 })), 3,
			envelope(events.TypeUserDisabled, t2, revoking(t2)),
			ptr(with(disabled, func(u *projections.User) { u.RevokedBefore = t3 }))},
		{"enable clears disabled_at, keeps revoked_before", ptr(disabled), 4,
			envelope(events.TypeUserEnabled, t3, `{}`),
			ptr(with(confirmed, func(u *projections.User) { u.RevokedBefore, u.Version, u.UpdatedAt = t2, 4, t3 }))},
		{"delete removes the row", ptr(disabled), 4,
			envelope(events.TypeUserDeleted, t3, revoking(t3)), nil},
		{"revoke sessions of a pending user", ptr(pending), 2,
			envelope(events.TypeSessionsRevoked, t1, revoking(t1)),
			ptr(with(pending, func(u *projections.User) { u.RevokedBefore, u.Version, u.UpdatedAt = t1, 2, t1 }))},
		{"revoke sessions keeps the later revoked_before", ptr(disabled), 9,
			envelope(events.TypeSessionsRevoked, t3, revoking(t1)),
			ptr(with(disabled, func(u *projections.User) { u.Version, u.UpdatedAt = 9, t3 }))},
		{"revoke one session only bumps the version", ptr(confirmed), 3,
			envelope(events.TypeSessionRevoked, t2, `{"session_id":"sid-1"}`),
			ptr(with(confirmed, func(u *projections.User) { u.Version, u.UpdatedAt = 3, t2 }))},
		{"revoke one session keeps state and revoked_before", ptr(disabled), 9,
			envelope(events.TypeSessionRevoked, t3, `{"session_id":"sid-1"}`),
			ptr(with(disabled, func(u *projections.User) { u.Version, u.UpdatedAt = 9, t3 }))},
		{"data purged of a deleted user, who has no row", nil, 5,
			envelope(events.TypeUserDataPurged, t3, `{"service":"todo","items_removed":3}`), nil},
	}
	covered := map[events.Type]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := decode(t, tt.seq, tt.json)
			var before projections.User
			if tt.cur != nil {
				before = *tt.cur
			}
			got, err := projections.ReduceUser(tt.cur, e)
			if err != nil {
				t.Fatalf("ReduceUser(%s): %v", e.Type, err)
			}
			if showUser(got) != showUser(tt.want) {
				t.Errorf("ReduceUser(%s)\n got %s\nwant %s", e.Type, showUser(got), showUser(tt.want))
			}
			if tt.cur != nil && *tt.cur != before {
				t.Errorf("ReduceUser(%s) changed its input row: got %+v, want %+v", e.Type, *tt.cur, before)
			}
		})
		covered[decode(t, tt.seq, tt.json).Type] = true
	}
	for _, typ := range events.Types() {
		if !covered[typ] {
			t.Errorf("no ReduceUser case for event type %s", typ)
		}
	}
}

func with(u projections.User, change func(*projections.User)) projections.User {
	change(&u)
	return u
}

// TestReduceUserRedelivery: an event at or below the row's version was
// applied already, whatever its type, and changes nothing.
func TestReduceUserRedelivery(t *testing.T) {
	t.Parallel()
	for _, typ := range events.Types() {
		for _, seq := range []uint64{1, disabled.Version} {
			e := decode(t, seq, sample(typ, t3))
			cur := disabled
			got, err := projections.ReduceUser(&cur, e)
			if err != nil {
				t.Errorf("ReduceUser(%s at seq %d, version %d): %v", typ, seq, cur.Version, err)
				continue
			}
			if got == nil || *got != disabled {
				t.Errorf("ReduceUser(%s at seq %d, version %d) = %s, want the row unchanged", typ, seq, cur.Version, showUser(got))
			}
		}
	}
}

// sample is a valid envelope of type typ.
func sample(typ events.Type, at time.Time) string {
	switch typ {
	case events.TypeUserRegistered:
		return envelope(typ, at, `{"email":"ada@example.com"}`)
	case events.TypeUserDisabled, events.TypeUserDeleted, events.TypeSessionsRevoked:
		return envelope(typ, at, revoking(at))
	case events.TypeSessionRevoked:
		return envelope(typ, at, `{"session_id":"sid-1"}`)
	case events.TypeUserDataPurged:
		return envelope(typ, at, `{"service":"todo","items_removed":3}`)
	}
	return envelope(typ, at, `{}`)
}

// TestReduceUserRefuses: events that cannot apply to the row are errors (to
// be recorded as failures) and leave the row as it was.
func TestReduceUserRefuses(t *testing.T) {
	t.Parallel()
	type tc struct {
		name    string
		cur     *projections.User
		e       events.Event
		wantErr error // nil: any error
	}
	var tests []tc
	for _, typ := range events.Types() {
		// A user's first event needs no row; a receipt comes after the
		// delete removed it.
		if typ != events.TypeUserRegistered && typ != events.TypeUserDataPurged {
			tests = append(tests, tc{"no row for " + string(typ), nil, decode(t, 7, sample(typ, t1)), nil})
		}
	}
	tests = append(tests,
		tc{"register over an existing row", ptr(confirmed), decode(t, 7, sample(events.TypeUserRegistered, t3)), nil},
		tc{"unknown type without a row", nil, bogus(7), projections.ErrNoReducer},
		tc{"unknown type with a row", ptr(confirmed), bogus(7), projections.ErrNoReducer},
		tc{"payload of another type", ptr(confirmed), events.Event{Type: events.TypeUserDisabled, UserID: uid, Seq: 7, Data: events.UserEnabled{}}, nil},
		tc{"data purged of a user with a row", ptr(confirmed), decode(t, 7, sample(events.TypeUserDataPurged, t3)), nil},
		tc{"data purged with another payload", nil, events.Event{Type: events.TypeUserDataPurged, UserID: uid, Seq: 7, Data: events.UserEnabled{}}, nil},
		tc{"no payload", ptr(confirmed), events.Event{Type: events.TypeSessionsRevoked, UserID: uid, Seq: 7}, nil},
		tc{"session revoked with another payload", ptr(confirmed), events.Event{Type: events.TypeSessionRevoked, UserID: uid, Seq: 7, Data: events.SessionsRevoked{RevokedBefore: t1}}, nil},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := projections.ReduceUser(tt.cur, tt.e)
			if err == nil {
				t.Fatalf("ReduceUser(%s) = %s, nil; want an error", tt.e.Type, showUser(got))
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("ReduceUser(%s) error = %v, want errors.Is %v", tt.e.Type, err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "users: ") {
				t.Errorf("ReduceUser(%s) error = %q, want it to name the users projection", tt.e.Type, err)
			}
			if showUser(got) != showUser(tt.cur) {
				t.Errorf("ReduceUser(%s) row on error = %s, want the current row %s", tt.e.Type, showUser(got), showUser(tt.cur))
			}
		})
	}
}
