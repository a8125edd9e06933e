package domain

import (
	"time"

	"github.com/userlife/userlife/events"
)

// State is a user's lifecycle state.
type State string

const (
	StateNone      State = ""          // no such user (no events)
	StatePending   State = "pending"   // registered, not confirmed
	StateConfirmed State = "confirmed" // active
	StateDisabled  State = "disabled"  // may not sign in
	StateDeleted   State = "deleted"   // gone for good; terminal
)

// Live reports whether the user exists and is not deleted.
func (s State) Live() bool { return s != StateNone && s != StateDeleted }

// User is the state of one user, the fold of its events.
type User struct {
	ID            string
	Email         string
	State         State
	Version       uint64 // stream sequence of the last event; 0 = no events
	RegisteredAt  time.Time
	ConfirmedAt   time.Time
	DisabledAt    time.Time
	DeletedAt     time.Time
	RevokedBefore time.Time

	// commands maps the command_id of every event to its sequence, so a
	// command delivered twice is recognised however late.
	commands map[string]uint64
	// sessions holds the session ids revoked one by one.
	sessions map[string]struct{}
}

// Fold builds a user from its events in stream order.
func Fold(userID string, evs []events.Event) User {
	u := User{ID: userID}
	for _, e := range evs {
		u = Evolve(u, e)
	}
	return u
}

// Evolve applies one event. Unknown payloads change nothing but the version.
func Evolve(u User, e events.Event) User {
	if u.ID == "" {
		u.ID = e.UserID
	}
	switch d := e.Data.(type) {
	case events.UserRegistered:
		u.State = StatePending
		u.Email = d.Email
		u.RegisteredAt = e.OccurredAt
	case events.UserConfirmed:
		u.State = StateConfirmed
		u.ConfirmedAt = e.OccurredAt
	case events.UserDisabled:
		u.State = StateDisabled
		u.DisabledAt = e.OccurredAt
		u.RevokedBefore = later(u.RevokedBefore, d.RevokedBefore)
	case events.UserEnabled:
		u.State = StateConfirmed
		u.DisabledAt = time.Time{}
	case events.UserDeleted:
		u.State = StateDeleted
		u.Email = events.Erased // the user's data key is destroyed with the delete
		u.DeletedAt = e.OccurredAt
		u.RevokedBefore = later(u.RevokedBefore, d.RevokedBefore)
	case events.SessionsRevoked:
		u.RevokedBefore = later(u.RevokedBefore, d.RevokedBefore)
	case events.SessionRevoked:
		if u.sessions == nil {
			u.sessions = make(map[string]struct{})
		}
		u.sessions[d.SessionID] = struct{}{}
	}
	if e.Seq > u.Version {
		u.Version = e.Seq
	}
	if e.CommandID != "" {
		if u.commands == nil {
			u.commands = make(map[string]uint64)
		}
		u.commands[e.CommandID] = e.Seq
	}
	return u
}

// AppliedCommand returns the sequence of the event a command produced, if
// the user's history holds one.
func (u User) AppliedCommand(commandID string) (uint64, bool) {
	seq, ok := u.commands[commandID]
	return seq, ok
}

// SessionRevoked reports whether the session was revoked on its own.
func (u User) SessionRevoked(sessionID string) bool {
	_, ok := u.sessions[sessionID]
	return ok
}

// later keeps revocation monotonic: a revocation never moves back in time.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
