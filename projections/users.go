package projections

import (
	"errors"
	"fmt"
	"time"

	"github.com/userlife/userlife/events"
)

// User states as the users projection shows them. Deleted users are not
// rows: deleting a user removes it (its history stays in the audit).
const (
	StatePending   = "pending"
	StateConfirmed = "confirmed"
	StateDisabled  = "disabled"
)

// User is a row of the users projection. Zero times are NULL.
type User struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	State         string    `json:"state"`
	RegisteredAt  time.Time `json:"registered_at"`
	ConfirmedAt   time.Time `json:"confirmed_at,omitzero"`
	DisabledAt    time.Time `json:"disabled_at,omitzero"`
	DeletedAt     time.Time `json:"deleted_at,omitzero"`
	RevokedBefore time.Time `json:"revoked_before,omitzero"`
	Version       uint64    `json:"version"`    // stream sequence of the last event applied
	UpdatedAt     time.Time `json:"updated_at"` // occurred_at of that event
}

// ErrNoReducer is returned for an event type a projection does not know.
var ErrNoReducer = errors.New("no reducer for this event type")

// userReducer turns the current row (nil: none) and an event into the new
// row (nil: remove the row).
type userReducer func(cur *User, e events.Event) (*User, error)

// userReducers is the users projection: one pure function per event type.
var userReducers = map[events.Type]userReducer{
	events.TypeUserRegistered: func(cur *User, e events.Event) (*User, error) {
		d := e.Data.(events.UserRegistered)
		return &User{ID: e.UserID, Email: d.Email, State: StatePending, RegisteredAt: e.OccurredAt}, nil
	},
	events.TypeUserConfirmed: existing(func(u *User, e events.Event) {
		u.State, u.ConfirmedAt = StateConfirmed, e.OccurredAt
	}),
	events.TypeUserDisabled: existing(func(u *User, e events.Event) {
		u.State, u.DisabledAt = StateDisabled, e.OccurredAt
		u.RevokedBefore = later(u.RevokedBefore, e.Data.(events.UserDisabled).RevokedBefore)
	}),
	events.TypeUserEnabled: existing(func(u *User, e events.Event) {
		u.State, u.DisabledAt = StateConfirmed, time.Time{}
	}),
	events.TypeUserDeleted: func(cur *User, e events.Event) (*User, error) {
		return nil, nil
	},
	events.TypeSessionsRevoked: existing(func(u *User, e events.Event) {
		u.RevokedBefore = later(u.RevokedBefore, e.Data.(events.SessionsRevoked).RevokedBefore)
	}),
}

// existing wraps a change of an existing row; an event for a user with no
// row (its registration is missing) is an error, recorded as a failure.
func existing(change func(u *User, e events.Event)) userReducer {
	return func(cur *User, e events.Event) (*User, error) {
		if cur == nil {
			return nil, fmt.Errorf("%s for user %s, who has no row", e.Type, e.UserID)
		}
		u := *cur
		change(&u, e)
		return &u, nil
	}
}

// ReduceUser applies e (with Seq set) to the user's current row. It returns
// the new row, or nil when the row is to be removed. An event already
// applied (e.Seq ≤ cur.Version) returns cur unchanged.
func ReduceUser(cur *User, e events.Event) (*User, error) {
	if cur != nil && e.Seq != 0 && e.Seq <= cur.Version {
		return cur, nil
	}
	r, ok := userReducers[e.Type]
	if !ok {
		return cur, fmt.Errorf("users: %w: %s", ErrNoReducer, e.Type)
	}
	next, err := r(cur, e)
	if err != nil || next == nil {
		return next, err
	}
	next.Version, next.UpdatedAt = e.Seq, e.OccurredAt
	return next, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
