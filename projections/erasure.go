package projections

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/userlife/userlife/events"
)

// DataService is a downstream service that holds user data and erases a
// deleted user's: it registers under its name (the RecordDataPurged
// "service") and then owes a receipt for every deleted user.
type DataService struct {
	Service      string    `json:"service"`
	RegisteredAt time.Time `json:"registered_at"`
	Description  string    `json:"description,omitempty"`
}

// Erasure statuses of one service for one deleted user.
const (
	ErasurePurged  = "purged"  // the service recorded UserDataPurged
	ErasurePending = "pending" // registered, no receipt yet
)

// ServiceErasure is one service's part of an erasure receipt.
type ServiceErasure struct {
	Service string `json:"service"`
	Status  string `json:"status"` // purged or pending
	// Registered is false for a receipt from a service that is no longer
	// registered: its receipt stays part of the record.
	Registered   bool      `json:"registered"`
	ItemsRemoved int64     `json:"items_removed"`        // when purged
	PurgedAt     time.Time `json:"purged_at,omitzero"`   // when purged: when the service reported it
	EventSeq     uint64    `json:"event_seq,omitempty"`  // when purged: the UserDataPurged event
	Actor        string    `json:"actor,omitempty"`      // when purged: who sent the receipt
	EventID      string    `json:"event_id,omitempty"`   // when purged
	CommandID    string    `json:"command_id,omitempty"` // when purged
}

// ErasureReceipt says, for a deleted user, which data services have
// confirmed erasing its data and which are still pending.
type ErasureReceipt struct {
	UserID       string           `json:"user_id"`
	DeletedAt    time.Time        `json:"deleted_at"`
	DeletedBy    string           `json:"deleted_by"`
	DeleteReason string           `json:"delete_reason,omitempty"`
	DeleteSeq    uint64           `json:"delete_seq"`
	Services     []ServiceErasure `json:"services"` // by service name
	// Complete: every registered service has confirmed.
	Complete bool `json:"complete"`
}

// ErrNotDeleted is returned for the erasure receipt of a user that exists
// and is not deleted. Match it with errors.Is.
var ErrNotDeleted = errors.New("user is not deleted")

// Erasure builds the erasure receipt of userID from its events (in stream
// order, Seq set) and the data services registered now. Every service
// registered at the time of the query owes a receipt, also one registered
// after the delete: registering is a promise to erase every deleted user's
// data, past deletions included (a new service's consumer starts at the
// first event). A service's first UserDataPurged is its receipt. It returns
// ErrNotFound for a user without events and ErrNotDeleted for a live one.
func Erasure(userID string, evs []events.Event, services []DataService) (ErasureReceipt, error) {
	if len(evs) == 0 {
		return ErasureReceipt{}, fmt.Errorf("user %s: %w", userID, ErrNotFound)
	}
	r := ErasureReceipt{UserID: userID, Services: []ServiceErasure{}}
	receipts := map[string]ServiceErasure{}
	deleted := false
	for _, e := range evs {
		switch d := e.Data.(type) {
		case events.UserDeleted:
			deleted = true
			r.DeletedAt, r.DeletedBy, r.DeleteReason, r.DeleteSeq = e.OccurredAt, e.Actor, e.Reason, e.Seq
		case events.UserDataPurged:
			if _, seen := receipts[d.Service]; seen {
				continue
			}
			receipts[d.Service] = ServiceErasure{Service: d.Service, Status: ErasurePurged, ItemsRemoved: d.ItemsRemoved,
				PurgedAt: e.OccurredAt, EventSeq: e.Seq, Actor: e.Actor, EventID: e.ID, CommandID: e.CommandID}
		}
	}
	if !deleted {
		return ErasureReceipt{}, fmt.Errorf("user %s: %w: an erasure receipt exists only for a deleted user", userID, ErrNotDeleted)
	}
	r.Complete = true
	for _, s := range services {
		got, ok := receipts[s.Service]
		if !ok {
			r.Complete = false
			got = ServiceErasure{Service: s.Service, Status: ErasurePending}
		}
		got.Registered = true
		receipts[s.Service] = got
	}
	for _, s := range receipts {
		r.Services = append(r.Services, s)
	}
	slices.SortFunc(r.Services, func(a, b ServiceErasure) int { return strings.Compare(a.Service, b.Service) })
	return r, nil
}

// Summary is the receipt in one line, e.g.
// "todo: purged 3 items at 2026-11-28T18:02:11Z; billing: pending".
func (r ErasureReceipt) Summary() string {
	if len(r.Services) == 0 {
		return "no data services registered"
	}
	parts := make([]string, len(r.Services))
	for i, s := range r.Services {
		switch s.Status {
		case ErasurePurged:
			parts[i] = fmt.Sprintf("%s: purged %d %s at %s", s.Service, s.ItemsRemoved, plural(s.ItemsRemoved, "item", "items"),
				s.PurgedAt.UTC().Format(time.RFC3339))
			if !s.Registered {
				parts[i] += " (no longer registered)"
			}
		default:
			parts[i] = s.Service + ": " + s.Status
		}
	}
	return strings.Join(parts, "; ")
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
