package projections_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

func TestAuditQueryValidate(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, q := range []projections.AuditQuery{
		{},
		{UserID: "ann", Types: []events.Type{events.TypeUserDeleted, "UserDataPurged"}, Actor: "anyone at all", Since: t0, Until: t0},
	} {
		if err := q.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", q, err)
		}
	}
	err := projections.AuditQuery{UserID: "a.b", Types: []events.Type{"User Deleted", ""}, Since: t0, Until: t0.Add(-1)}.Validate()
	if err == nil || strings.Count(err.Error(), "\n") != 3 {
		t.Errorf("Validate of four problems = %v, want all four", err)
	}
}

func TestAuditQueryMatch(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	r := projections.AuditEvent{UserID: "ann", Type: events.TypeUserDisabled, Actor: "bob", OccurredAt: t0}
	for _, tt := range []struct {
		q    projections.AuditQuery
		want bool
	}{
		{projections.AuditQuery{}, true},
		{projections.AuditQuery{Since: t0, Until: t0}, true}, // both bounds inclusive
		{projections.AuditQuery{Since: t0.Add(1)}, false},
		{projections.AuditQuery{Until: t0.Add(-1)}, false},
		{projections.AuditQuery{UserID: "bob"}, false},
		{projections.AuditQuery{Actor: "bob", Types: []events.Type{events.TypeUserDeleted, events.TypeUserDisabled}}, true},
		{projections.AuditQuery{Types: []events.Type{events.TypeUserDeleted}}, false},
	} {
		if got := tt.q.Match(r); got != tt.want {
			t.Errorf("%+v.Match = %v, want %v", tt.q, got, tt.want)
		}
	}
}

// TestUserFold: a deletion keeps the last row as "deleted" with the
// deletion's revocation; later events and unknown types change nothing.
func TestUserFold(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	ev := func(seq uint64, p events.Payload) events.Event {
		return events.Event{Type: p.EventType(), UserID: "ann", OccurredAt: t0.Add(time.Duration(seq) * time.Second), Seq: seq, Data: p}
	}
	var f projections.UserFold
	f.Apply(ev(1, events.UserRegistered{Email: "ann@example.com"}))
	f.Apply(ev(2, events.UserConfirmed{}))
	f.Apply(events.Event{Type: "UserTeleported", UserID: "ann", Seq: 3})
	f.Apply(ev(4, events.UserDeleted{RevokedBefore: t0.Add(4 * time.Second)}))
	if f.Row == nil || f.Row.State != projections.StateDeleted || f.Row.Version != 4 || !f.Row.RevokedBefore.Equal(t0.Add(4*time.Second)) ||
		f.Row.Email != "ann@example.com" || !f.Row.DeletedAt.Equal(t0.Add(4*time.Second)) || len(f.Failures) != 0 {
		t.Fatalf("after delete: %+v, failures %v", f.Row, f.Failures)
	}
	f.Apply(ev(5, events.UserEnabled{}))
	f.Fail(6, errors.New("malformed event"))
	if f.Row.State != projections.StateDeleted || f.Row.Version != 4 || len(f.Failures) != 2 {
		t.Errorf("after events past the deletion: %+v, failures %v", f.Row, f.Failures)
	}
	var g projections.UserFold
	g.Apply(ev(1, events.UserConfirmed{}))
	if g.Row != nil || len(g.Failures) != 1 {
		t.Errorf("confirm without registration: %+v, %v", g.Row, g.Failures)
	}
	if err := (&projections.NotFoundAtError{UserID: "x"}); !errors.Is(err, projections.ErrNotFound) || err.Error() != "no user x" {
		t.Errorf("NotFoundAtError: %v", err)
	}
}
