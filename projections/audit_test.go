package projections_test

import (
	"errors"
	"testing"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

func TestReduceAudit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ  events.Type
		data string // compact, as the encoder writes it
	}{
		{events.TypeUserRegistered, `{"email":"Ada@Example.com"}`},
		{events.TypeUserConfirmed, `{}`},
		{events.TypeUserDisabled, `{"revoked_before":"2025-03-14T09:02:00.123456Z"}`},
		{events.TypeUserEnabled, `{}`},
		{events.TypeUserDeleted, `{"revoked_before":"2025-03-14T09:03:00Z"}`},
		{events.TypeSessionsRevoked, `{"revoked_before":"2025-03-14T09:01:00.5Z"}`},
		{events.TypeSessionRevoked, `{"session_id":"sid-7f3a9c2e"}`},
		{events.TypeUserDataPurged, `{"service":"todo","items_removed":3}`},
	}
	covered := map[events.Type]bool{}
	for i, tt := range tests {
		covered[tt.typ] = true
		t.Run(string(tt.typ), func(t *testing.T) {
			t.Parallel()
			seq := uint64(10 + i)
			e := decode(t, seq, envelope(tt.typ, t2, tt.data))
			got, err := projections.ReduceAudit(e)
			if err != nil {
				t.Fatalf("ReduceAudit: %v", err)
			}
			if string(got.Data) != tt.data {
				t.Errorf("data = %s, want %s", got.Data, tt.data)
			}
			got.Data = nil
			want := projections.AuditEvent{
				Seq: seq, EventID: e.ID, Type: tt.typ, UserID: uid, Actor: "admin@example.com", Reason: "ticket 7",
				CommandID: "cmd-1", CorrelationID: "corr-1", OccurredAt: t2,
			}
			if got.Seq != want.Seq || got.EventID != want.EventID || got.Type != want.Type || got.UserID != want.UserID ||
				got.Actor != want.Actor || got.Reason != want.Reason || got.CommandID != want.CommandID ||
				got.CorrelationID != want.CorrelationID || !got.OccurredAt.Equal(want.OccurredAt) {
				t.Errorf("ReduceAudit\n got %+v\nwant %+v", got, want)
			}
		})
	}
	for _, typ := range events.Types() {
		if !covered[typ] {
			t.Errorf("no ReduceAudit case for event type %s", typ)
		}
	}
}

func TestReduceAuditUnknownType(t *testing.T) {
	t.Parallel()
	_, err := projections.ReduceAudit(bogus(3))
	if !errors.Is(err, projections.ErrNoReducer) {
		t.Errorf("ReduceAudit(Bogus) error = %v, want errors.Is ErrNoReducer", err)
	}
}

func TestReduceAuditMessage(t *testing.T) {
	t.Parallel()
	bad := errors.New("undecodable")
	if _, err := projections.ReduceAuditMessage(poison(4, bad)); !errors.Is(err, bad) {
		t.Errorf("ReduceAuditMessage(poison) error = %v, want the decoding error", err)
	}
	m := message(t, 5, sample(events.TypeUserEnabled, t1))
	got, err := projections.ReduceAuditMessage(m)
	if err != nil || got.Seq != 5 || got.Type != events.TypeUserEnabled {
		t.Errorf("ReduceAuditMessage = %+v, %v; want the UserEnabled row at seq 5", got, err)
	}
}
