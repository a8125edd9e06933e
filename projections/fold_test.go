package projections_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// history is one user's life with three bad messages in it: one that did
// not decode (seq 3), one of an unknown type (seq 5) and one the users
// reducer refuses, a second registration (seq 7).
func history(t *testing.T) (ms []projections.Message, undecodable error) {
	t.Helper()
	undecodable = errors.New("malformed event: unexpected end of JSON input")
	unknown := bogus(5)
	return []projections.Message{
		message(t, 1, envelope(events.TypeUserRegistered, t0, `{"email":"Ada@Example.com"}`)),
		message(t, 2, envelope(events.TypeUserConfirmed, t1, `{}`)),
		poison(3, undecodable),
		message(t, 4, envelope(events.TypeUserDisabled, t2, revoking(t2))),
		{Seq: 5, Subject: "userlife.events." + uid + ".Bogus", Event: unknown},
		message(t, 6, envelope(events.TypeUserEnabled, t3, `{}`)),
		message(t, 7, envelope(events.TypeUserRegistered, t3, `{"email":"eve@example.com"}`)),
	}, undecodable
}

var foldNow = time.Date(2025, 3, 15, 12, 0, 0, 0, time.FixedZone("CET", 3600))

func TestUsersTableApply(t *testing.T) {
	t.Parallel()
	ms, undecodable := history(t)
	tab := projections.NewUsersTable()
	for _, m := range ms {
		tab.Apply(m, foldNow)
	}
	if tab.Checkpoint != 7 {
		t.Errorf("Checkpoint = %d, want 7", tab.Checkpoint)
	}
	want := projections.User{ID: uid, Email: "Ada@Example.com", State: projections.StateConfirmed,
		RegisteredAt: t0, ConfirmedAt: t1, RevokedBefore: t2, Version: 6, UpdatedAt: t3}
	if len(tab.Rows) != 1 || tab.Rows[uid] != want {
		t.Errorf("Rows = %+v, want only %+v", tab.Rows, want)
	}
	checkFailures(t, tab.Failures, projections.Users, ms, map[uint64]string{
		3: undecodable.Error(), 5: projections.ErrNoReducer.Error(), 7: "already has a row",
	})

	tab.Apply(message(t, 8, envelope(events.TypeUserDeleted, t3, revoking(t3))), foldNow)
	if len(tab.Rows) != 0 || tab.Checkpoint != 8 {
		t.Errorf("after UserDeleted: Rows = %+v, Checkpoint = %d; want no rows, 8", tab.Rows, tab.Checkpoint)
	}
}

func TestAuditLogApply(t *testing.T) {
	t.Parallel()
	ms, undecodable := history(t)
	var log projections.AuditLog
	for _, m := range ms {
		log.Apply(m, foldNow)
	}
	if log.Checkpoint != 7 {
		t.Errorf("Checkpoint = %d, want 7", log.Checkpoint)
	}
	var got []uint64
	for _, r := range log.Rows {
		got = append(got, r.Seq)
	}
	if want := []uint64{1, 2, 4, 6, 7}; !slices.Equal(got, want) {
		t.Errorf("audit rows at seqs %v, want %v", got, want)
	}
	checkFailures(t, log.Failures, projections.Audit, ms, map[uint64]string{
		3: undecodable.Error(), 5: projections.ErrNoReducer.Error(),
	})
}

// checkFailures compares recorded failures with the wanted seq → error
// text (a substring).
func checkFailures(t *testing.T, got []projections.Failure, projection string, ms []projections.Message, want map[uint64]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d failures %+v, want %d", len(got), got, len(want))
	}
	for _, f := range got {
		text, ok := want[f.Seq]
		if !ok {
			t.Errorf("unexpected failure at seq %d: %s", f.Seq, f.Error)
			continue
		}
		m := ms[f.Seq-1]
		if f.Projection != projection || !strings.Contains(f.Error, text) || f.Subject != m.Subject ||
			string(f.Data) != string(m.Data) || !f.At.Equal(foldNow) || f.At.Location() != time.UTC {
			t.Errorf("failure at seq %d = %+v, want projection %q, error containing %q, subject %q, data %q, at %v UTC",
				f.Seq, f, projection, text, m.Subject, m.Data, foldNow)
		}
	}
}

func TestReduceUserMessage(t *testing.T) {
	t.Parallel()
	bad := errors.New("undecodable")
	if _, err := projections.ReduceUserMessage(nil, poison(3, bad)); !errors.Is(err, bad) {
		t.Errorf("ReduceUserMessage(poison) error = %v, want the decoding error", err)
	}
	got, err := projections.ReduceUserMessage(ptr(disabled), message(t, 4, sample(events.TypeUserDeleted, t3)))
	if err != nil || got.UserID != uid || got.Row != nil {
		t.Errorf("ReduceUserMessage(UserDeleted) = {%s, %s}, %v; want {%s, <nil>}, nil", got.UserID, showUser(got.Row), err, uid)
	}
	got, err = projections.ReduceUserMessage(nil, message(t, 1, sample(events.TypeUserRegistered, t0)))
	if err != nil || got.UserID != uid || got.Row == nil || got.Row.State != projections.StatePending {
		t.Errorf("ReduceUserMessage(UserRegistered) = {%s, %s}, %v; want a pending row", got.UserID, showUser(got.Row), err)
	}
}

func TestNewFailure(t *testing.T) {
	t.Parallel()
	m := poison(9, nil)
	f := projections.NewFailure(projections.Audit, m, nil, foldNow)
	want := projections.Failure{Projection: projections.Audit, Seq: 9, Subject: m.Subject, Error: "unknown failure", Data: m.Data, At: foldNow.UTC()}
	if f.Projection != want.Projection || f.Seq != want.Seq || f.Subject != want.Subject || f.Error != want.Error ||
		string(f.Data) != string(want.Data) || f.At != want.At {
		t.Errorf("NewFailure(nil error) = %+v, want %+v", f, want)
	}
}
