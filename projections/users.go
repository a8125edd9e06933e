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
		d, err := payload[events.UserRegistered](e)
		if err != nil {
			return nil, err
		}
		if cur != nil {
			// Registering again would wipe the row's state and revocation.
			return nil, fmt.Errorf("%s for user %s, who already has a row", e.Type, e.UserID)
		}
		return &User{ID: e.UserID, Email: d.Email, State: StatePending, RegisteredAt: e.OccurredAt}, nil
	},
	events.TypeUserConfirmed: existing(func(u *User, e events.Event) error {
		u.State, u.ConfirmedAt = StateConfirmed, e.OccurredAt
		return nil
	}),
	events.TypeUserDisabled: existing(func(u *User, e events.Event) error {
		d, err := payload[events.UserDisabled](e)
		u.State, u.DisabledAt = StateDisabled, e.OccurredAt
		u.RevokedBefore = later(u.RevokedBefore, d.RevokedBefore)
		return err
	}),
	events.TypeUserEnabled: existing(func(u *User, e events.Event) error {
		u.State, u.DisabledAt = StateConfirmed, time.Time{}
		return nil
	}),
	events.TypeUserDeleted: func(cur *User, e events.Event) (*User, error) {
		if cur == nil {
			return nil, noRow(e)
		}
		return nil, nil
	},
	// A single session's revocation is the revocation view's business; the
	// users row only records that the user changed.
	events.TypeSessionRevoked: existing(func(_ *User, e events.Event) error {
		_, err := payload[events.SessionRevoked](e)
		return err
	}),
	// A receipt of a deleted user, who has no row: nothing to change. A
	// receipt for a user with a row (the domain never emits one) would say
	// a live user's data was erased; it is refused, not folded in.
	events.TypeUserDataPurged: func(cur *User, e events.Event) (*User, error) {
		if _, err := payload[events.UserDataPurged](e); err != nil {
			return cur, err
		}
		if cur != nil {
			return nil, fmt.Errorf("%s for user %s, who is %s, not deleted", e.Type, e.UserID, cur.State)
		}
		return nil, nil
	},
	events.TypeSessionsRevoked: existing(func(u *User, e events.Event) error {
		d, err := payload[events.SessionsRevoked](e)
		u.RevokedBefore = later(u.RevokedBefore, d.RevokedBefore)
		return err
	}),
}

// existing wraps a change of an existing row; an event for a user with no
// row (its registration is missing) is an error, recorded as a failure.
func existing(change func(u *User, e events.Event) error) userReducer {
	return func(cur *User, e events.Event) (*User, error) {
		if cur == nil {
			return nil, noRow(e)
		}
		u := *cur
		if err := change(&u, e); err != nil {
			return nil, err
		}
		return &u, nil
	}
}

func noRow(e events.Event) error {
	return fmt.Errorf("%s for user %s, who has no row", e.Type, e.UserID)
}

// payload returns e's payload as a T. Decoded events always match their
// type; an event built by hand may not, and must fail rather than panic the
// projector.
func payload[T events.Payload](e events.Event) (T, error) {
	d, ok := e.Data.(T)
	if !ok {
		return d, fmt.Errorf("%s carries a %T payload", e.Type, e.Data)
	}
	return d, nil
}

// ReduceUser applies e (with Seq set) to the user's current row. It returns
// the new row, or nil when the row is to be removed. An event already
// applied (e.Seq ≤ cur.Version) returns cur unchanged; so does an error
// (unknown type, no row to change, a row to register over, wrong payload).
func ReduceUser(cur *User, e events.Event) (*User, error) {
	if cur != nil && e.Seq != 0 && e.Seq <= cur.Version {
		return cur, nil
	}
	r, ok := userReducers[e.Type]
	if !ok {
		return cur, fmt.Errorf("users: %w: %s", ErrNoReducer, e.Type)
	}
	next, err := r(cur, e)
	if err != nil {
		return cur, fmt.Errorf("users: %w", err)
	}
	if next == nil {
		return nil, nil
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
