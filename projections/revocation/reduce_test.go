package revocation_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections/revocation"
)

var (
	t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Hour)
)

func ev(seq uint64, data events.Payload) events.Event {
	return events.Event{ID: "e", Type: data.EventType(), UserID: "u1", OccurredAt: t0, Actor: "ops", Data: data, Seq: seq}
}

func entry(state string, rb time.Time, rev uint64, sids ...string) *revocation.Entry {
	return &revocation.Entry{UserID: "u1", State: state, RevokedBefore: rb, RevokedSessions: sids, Revision: rev}
}

func TestReduce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cur  *revocation.Entry
		e    events.Event
		want *revocation.Entry
	}{
		{"registered", nil, ev(1, events.UserRegistered{Email: "a@example.com"}), entry(revocation.StatePending, time.Time{}, 1)},
		{"confirmed", entry(revocation.StatePending, time.Time{}, 1), ev(2, events.UserConfirmed{}), entry(revocation.StateConfirmed, time.Time{}, 2)},
		{"disabled", entry(revocation.StateConfirmed, time.Time{}, 2), ev(3, events.UserDisabled{RevokedBefore: t0}), entry(revocation.StateDisabled, t0, 3)},
		{"disabled keeps the later revoked_before", entry(revocation.StateConfirmed, t1, 2), ev(3, events.UserDisabled{RevokedBefore: t0}), entry(revocation.StateDisabled, t1, 3)},
		{"enabled keeps revoked_before", entry(revocation.StateDisabled, t0, 3, "s1"), ev(4, events.UserEnabled{}), entry(revocation.StateConfirmed, t0, 4, "s1")},
		{"deleted", entry(revocation.StateConfirmed, t0, 4), ev(5, events.UserDeleted{RevokedBefore: t1}), entry(revocation.StateDeleted, t1, 5)},
		{"deleted keeps the later revoked_before", entry(revocation.StateDisabled, t1, 4), ev(5, events.UserDeleted{RevokedBefore: t0}), entry(revocation.StateDeleted, t1, 5)},
		{"deleted is terminal", entry(revocation.StateDeleted, t0, 5), ev(6, events.UserEnabled{}), entry(revocation.StateDeleted, t0, 6)},
		{"sessions revoked", entry(revocation.StateConfirmed, t0, 2), ev(3, events.SessionsRevoked{RevokedBefore: t1}), entry(revocation.StateConfirmed, t1, 3)},
		{"sessions revoked never moves back", entry(revocation.StateDisabled, t1, 2), ev(3, events.SessionsRevoked{RevokedBefore: t0}), entry(revocation.StateDisabled, t1, 3)},
		{"sessions revoked without an entry", nil, ev(3, events.SessionsRevoked{RevokedBefore: t0}), entry(revocation.StatePending, t0, 3)},
		{"session revoked, first", entry(revocation.StateConfirmed, time.Time{}, 2), ev(3, events.SessionRevoked{SessionID: "s2"}), entry(revocation.StateConfirmed, time.Time{}, 3, "s2")},
		{"session revoked, sorted in", entry(revocation.StateConfirmed, t0, 3, "s1", "s3"), ev(4, events.SessionRevoked{SessionID: "s2"}), entry(revocation.StateConfirmed, t0, 4, "s1", "s2", "s3")},
		{"session revoked, first in order", entry(revocation.StateConfirmed, t0, 3, "s1", "s3"), ev(4, events.SessionRevoked{SessionID: "s0"}), entry(revocation.StateConfirmed, t0, 4, "s0", "s1", "s3")},
		{"session revoked twice", entry(revocation.StateConfirmed, t0, 3, "s1", "s3"), ev(4, events.SessionRevoked{SessionID: "s3"}), entry(revocation.StateConfirmed, t0, 4, "s1", "s3")},
		{"data purged keeps the deleted entry", entry(revocation.StateDeleted, t1, 5), ev(6, events.UserDataPurged{Service: "todo", ItemsRemoved: 3}), entry(revocation.StateDeleted, t1, 6)},
		{"data purged without an entry is deleted", nil, ev(6, events.UserDataPurged{Service: "todo"}), entry(revocation.StateDeleted, time.Time{}, 6)},
		{"redelivery, same seq", entry(revocation.StateDisabled, t0, 7), ev(7, events.UserEnabled{}), entry(revocation.StateDisabled, t0, 7)},
		{"redelivery, older seq", entry(revocation.StateDisabled, t0, 7), ev(3, events.UserEnabled{}), entry(revocation.StateDisabled, t0, 7)},
	}
	covered := map[events.Type]bool{}
	for _, tt := range tests {
		covered[tt.e.Type] = true
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var before *revocation.Entry
			if tt.cur != nil {
				c := *tt.cur
				c.RevokedSessions = slices.Clone(tt.cur.RevokedSessions)
				before = &c
			}
			got, err := revocation.Reduce(tt.cur, tt.e)
			if err != nil {
				t.Fatalf("Reduce: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Reduce:\ngot:  %+v\nwant: %+v", got, tt.want)
			}
			if !reflect.DeepEqual(tt.cur, before) {
				t.Errorf("Reduce changed cur:\ngot:  %+v\nwant: %+v", tt.cur, before)
			}
			if tt.cur != nil && tt.e.Seq <= tt.cur.Revision && got != tt.cur {
				t.Errorf("redelivery returned a new entry, want cur itself")
			}
			if tt.cur != nil && tt.e.Seq > tt.cur.Revision && got == tt.cur {
				t.Errorf("Reduce returned cur itself for a new event")
			}
		})
	}
	for _, typ := range events.Types() {
		if !covered[typ] {
			t.Errorf("no case for %s", typ)
		}
	}
}

// TestReduceSessionsNotShared: the entry Reduce returns must not share a
// backing array that a later Reduce writes into.
func TestReduceSessionsNotShared(t *testing.T) {
	t.Parallel()
	base := entry(revocation.StateConfirmed, time.Time{}, 1, "s1", "s3")
	base.RevokedSessions = append(make([]string, 0, 8), base.RevokedSessions...)
	a, err := revocation.Reduce(base, ev(2, events.SessionRevoked{SessionID: "s2"}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := revocation.Reduce(base, ev(2, events.SessionRevoked{SessionID: "s0"}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := a.RevokedSessions, []string{"s1", "s2", "s3"}; !slices.Equal(got, want) {
		t.Errorf("a: got %v, want %v", got, want)
	}
	if got, want := b.RevokedSessions, []string{"s0", "s1", "s3"}; !slices.Equal(got, want) {
		t.Errorf("b: got %v, want %v", got, want)
	}
	if got, want := base.RevokedSessions, []string{"s1", "s3"}; !slices.Equal(got, want) {
		t.Errorf("cur: got %v, want %v", got, want)
	}
}

func TestReduceErrors(t *testing.T) {
	t.Parallel()
	cur := entry(revocation.StateConfirmed, t0, 2)
	other := ev(3, events.UserDisabled{RevokedBefore: t1})
	other.UserID = "u2"
	tests := []struct {
		name  string
		e     events.Event
		isErr error
	}{
		{"unknown type", events.Event{Type: "UserRenamed", UserID: "u1", Seq: 3}, revocation.ErrNoReducer},
		{"payload of another type", events.Event{Type: events.TypeUserDisabled, UserID: "u1", Data: events.UserEnabled{}, Seq: 3}, nil},
		{"no payload", events.Event{Type: events.TypeSessionsRevoked, UserID: "u1", Seq: 3}, nil},
		{"session revoked without an id", ev(3, events.SessionRevoked{}), nil},
		{"another user's event", other, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := revocation.Reduce(cur, tt.e)
			if err == nil {
				t.Fatalf("Reduce = %+v, nil; want an error", got)
			}
			if tt.isErr != nil && !errors.Is(err, tt.isErr) {
				t.Errorf("error = %v, want errors.Is %v", err, tt.isErr)
			}
			if got != cur {
				t.Errorf("Reduce with an error returned %+v, want cur", got)
			}
		})
	}
}
