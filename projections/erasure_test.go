package projections_test

import (
	"errors"
	"testing"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

func TestErasure(t *testing.T) {
	t.Parallel()
	ev := func(seq uint64, typ events.Type, data string) events.Event {
		return decode(t, seq, envelope(typ, t0.Add(minutes(seq)), data))
	}
	registered := ev(1, events.TypeUserRegistered, `{"email":"ada@example.com"}`)
	deleted := ev(2, events.TypeUserDeleted, revoking(t0))
	todo := ev(3, events.TypeUserDataPurged, `{"service":"todo","items_removed":3}`)
	todoAgain := ev(4, events.TypeUserDataPurged, `{"service":"todo","items_removed":9}`)
	gone := ev(5, events.TypeUserDataPurged, `{"service":"legacy","items_removed":1}`)
	services := []projections.DataService{{Service: "todo"}, {Service: "billing"}}

	if _, err := projections.Erasure(uid, nil, services); !errors.Is(err, projections.ErrNotFound) {
		t.Errorf("no events: error %v, want ErrNotFound", err)
	}
	if _, err := projections.Erasure(uid, []events.Event{registered}, services); !errors.Is(err, projections.ErrNotDeleted) {
		t.Errorf("live user: error %v, want ErrNotDeleted", err)
	}
	tests := []struct {
		name     string
		evs      []events.Event
		services []projections.DataService
		summary  string
		complete bool
	}{
		{"just deleted", []events.Event{registered, deleted}, services,
			"billing: pending; todo: pending", false},
		{"todo purged, billing pending", []events.Event{registered, deleted, todo}, services,
			"billing: pending; todo: purged 3 items at 2025-03-14T09:03:00Z", false},
		{"the first receipt of a service counts", []events.Event{registered, deleted, todo, todoAgain}, services[:1],
			"todo: purged 3 items at 2025-03-14T09:03:00Z", true},
		{"a receipt of a service no longer registered stays", []events.Event{registered, deleted, gone}, nil,
			"legacy: purged 1 item at 2025-03-14T09:05:00Z (no longer registered)", true},
		{"no services", []events.Event{registered, deleted}, nil, "no data services registered", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := projections.Erasure(uid, tt.evs, tt.services)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Summary(); got != tt.summary {
				t.Errorf("Summary() = %q, want %q", got, tt.summary)
			}
			if r.Complete != tt.complete {
				t.Errorf("Complete = %v, want %v", r.Complete, tt.complete)
			}
			if r.UserID != uid || r.DeleteSeq != 2 || !r.DeletedAt.Equal(deleted.OccurredAt) || r.DeletedBy != deleted.Actor {
				t.Errorf("receipt header = %+v, want the delete at seq 2", r)
			}
		})
	}
}
