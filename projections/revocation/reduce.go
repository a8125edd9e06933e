package revocation

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/userlife/userlife/events"
)

// Entry states. Only disabled and deleted refuse tokens by themselves;
// a pending user's tokens are the identity provider's business.
const (
	StatePending   = "pending"
	StateConfirmed = "confirmed"
	StateDisabled  = "disabled"
	StateDeleted   = "deleted"
)

// ErrNoReducer is returned by Reduce for an event type the view does not
// know. Match it with errors.Is.
var ErrNoReducer = errors.New("no reducer for this event type")

// reducer changes next, a copy of the current entry (zero for a new user).
type reducer func(next *Entry, e events.Event) error

// reducers is the revocation view: one function per event type.
var reducers = map[events.Type]reducer{
	events.TypeUserRegistered: func(n *Entry, e events.Event) error {
		_, err := payload[events.UserRegistered](e)
		setState(n, StatePending)
		return err
	},
	events.TypeUserConfirmed: func(n *Entry, e events.Event) error {
		_, err := payload[events.UserConfirmed](e)
		setState(n, StateConfirmed)
		return err
	},
	events.TypeUserDisabled: func(n *Entry, e events.Event) error {
		d, err := payload[events.UserDisabled](e)
		setState(n, StateDisabled)
		n.RevokedBefore = later(n.RevokedBefore, d.RevokedBefore)
		return err
	},
	// Enabling lets new tokens in; RevokedBefore stays, so the tokens the
	// disable revoked stay revoked.
	events.TypeUserEnabled: func(n *Entry, e events.Event) error {
		_, err := payload[events.UserEnabled](e)
		setState(n, StateConfirmed)
		return err
	},
	events.TypeUserDeleted: func(n *Entry, e events.Event) error {
		d, err := payload[events.UserDeleted](e)
		n.State = StateDeleted
		n.RevokedBefore = later(n.RevokedBefore, d.RevokedBefore)
		return err
	},
	// Only a deleted user's data is purged: the entry says deleted (also if
	// it was missing), so a receipt can never let the user's tokens in.
	events.TypeUserDataPurged: func(n *Entry, e events.Event) error {
		_, err := payload[events.UserDataPurged](e)
		n.State = StateDeleted
		return err
	},
	events.TypeSessionsRevoked: func(n *Entry, e events.Event) error {
		d, err := payload[events.SessionsRevoked](e)
		n.RevokedBefore = later(n.RevokedBefore, d.RevokedBefore)
		return err
	},
	events.TypeSessionRevoked: func(n *Entry, e events.Event) error {
		d, err := payload[events.SessionRevoked](e)
		if err != nil {
			return err
		}
		if d.SessionID == "" {
			return fmt.Errorf("%s for user %s without a session_id", e.Type, e.UserID)
		}
		n.RevokedSessions = withSession(n.RevokedSessions, d.SessionID)
		return nil
	},
}

// Reduce folds one event (with Seq set) into the user's entry; cur nil means
// the user has no entry yet. It returns the new entry, never nil for a known
// type, and never changes *cur. An event already folded in (Seq at or below
// cur.Revision) returns cur unchanged. An unknown type is ErrNoReducer; an
// unknown type or a payload that does not match its type returns cur with
// the error.
//
// RevokedBefore only moves forward. Deleted is terminal: no later event
// brings a deleted user back (the domain never emits one; if a bug did, the
// view stays on the refusing side).
func Reduce(cur *Entry, e events.Event) (*Entry, error) {
	if cur != nil && e.Seq <= cur.Revision {
		return cur, nil
	}
	r, ok := reducers[e.Type]
	if !ok {
		return cur, fmt.Errorf("revocation: %w: %s", ErrNoReducer, e.Type)
	}
	if cur != nil && cur.UserID != e.UserID {
		return cur, fmt.Errorf("revocation: %s for user %s folded into the entry of %s", e.Type, e.UserID, cur.UserID)
	}
	next := Entry{UserID: e.UserID, State: StatePending}
	if cur != nil {
		// RevokedSessions is shared with cur; withSession copies before
		// it adds.
		next = *cur
	}
	if err := r(&next, e); err != nil {
		return cur, fmt.Errorf("revocation: %w", err)
	}
	next.Revision = e.Seq
	return &next, nil
}

// setState moves a user that is not deleted to state.
func setState(n *Entry, state string) {
	if n.State != StateDeleted {
		n.State = state
	}
}

// withSession returns a new sorted slice with sid added, or sessions itself
// when sid is already there. It never writes into sessions.
func withSession(sessions []string, sid string) []string {
	i, found := slices.BinarySearch(sessions, sid)
	if found {
		return sessions
	}
	out := make([]string, 0, len(sessions)+1)
	out = append(out, sessions[:i]...)
	out = append(out, sid)
	return append(out, sessions[i:]...)
}

// payload returns e's payload as a T. Decoded events always match their
// type; an event built by hand may not, and must fail rather than panic.
func payload[T events.Payload](e events.Event) (T, error) {
	d, ok := e.Data.(T)
	if !ok {
		return d, fmt.Errorf("%s carries a %T payload", e.Type, e.Data)
	}
	return d, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
