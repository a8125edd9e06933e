package domain

import (
	"fmt"
	"time"

	"github.com/userlife/userlife/events"
)

// Decider decides commands against a user's state. Now and NewID are the
// injected clock and event-id source; Decide calls each at most once.
type Decider struct {
	Now   func() time.Time
	NewID func() string
}

// Decision is what a command does to a user.
type Decision struct {
	// Events to append (at most one today). Empty when Unchanged or when
	// the command was already applied.
	Events []events.Event
	// Unchanged: the user already is where the command would take it.
	Unchanged bool
	// AppliedSeq is set when the same command_id already produced an event:
	// the command is a redelivery and must not append again.
	AppliedSeq uint64
	// Message explains an unchanged outcome.
	Message string
}

// Decide applies the transition table to u. A refusal is a *events.CommandError.
// The command must have passed Validate.
func (d Decider) Decide(u User, cmd events.Command) (Decision, error) {
	m := cmd.Meta()
	if seq, ok := u.AppliedCommand(m.CommandID); ok {
		return Decision{AppliedSeq: seq}, nil
	}
	if r, ok := cmd.(*events.RegisterUser); ok {
		switch u.State {
		case StateNone:
			return d.emit(u, cmd, events.UserRegistered{Email: r.Email}), nil
		case StateDeleted:
			return Decision{}, events.Errorf(events.CodeUserDeleted, "user %s was deleted; a user id is never reused", u.ID)
		default:
			return Decision{}, events.Errorf(events.CodeUserExists, "user %s already exists", u.ID)
		}
	}
	switch u.State {
	case StateNone:
		return Decision{}, events.Errorf(events.CodeUnknownUser, "no user %s", m.UserID)
	case StateDeleted:
		switch c := cmd.(type) {
		case *events.DeleteUser:
			return unchanged("user %s is already deleted", u.ID), nil
		case *events.RecordDataPurged:
			return d.decidePurged(u, c), nil
		}
		return Decision{}, events.Errorf(events.CodeUserDeleted, "user %s is deleted", u.ID)
	}
	if _, ok := cmd.(*events.RecordDataPurged); ok {
		return Decision{}, events.Errorf(events.CodeForbiddenTransition,
			"user %s is %s, not deleted: a data purge is recorded only after the user is deleted", u.ID, u.State)
	}

	switch c := cmd.(type) {
	case *events.ConfirmUser:
		if u.State != StatePending {
			return unchanged("user %s is already confirmed", u.ID), nil
		}
		return d.emit(u, cmd, events.UserConfirmed{}), nil

	case *events.DisableUser:
		switch u.State {
		case StatePending:
			return Decision{}, events.Errorf(events.CodeForbiddenTransition,
				"user %s is pending (not confirmed): a pending user cannot be disabled, only deleted", u.ID)
		case StateDisabled:
			return unchanged("user %s is already disabled", u.ID), nil
		}
		return d.emitRevoking(u, cmd, func(t time.Time) events.Payload { return events.UserDisabled{RevokedBefore: t} }), nil

	case *events.EnableUser:
		switch u.State {
		case StatePending:
			return Decision{}, events.Errorf(events.CodeForbiddenTransition,
				"user %s is pending (not confirmed): only a disabled user can be enabled; confirm it instead", u.ID)
		case StateConfirmed:
			return unchanged("user %s is already enabled", u.ID), nil
		}
		return d.emit(u, cmd, events.UserEnabled{}), nil

	case *events.DeleteUser:
		return d.emitRevoking(u, cmd, func(t time.Time) events.Payload { return events.UserDeleted{RevokedBefore: t} }), nil

	case *events.RevokeSession:
		if u.State == StatePending {
			return Decision{}, events.Errorf(events.CodeForbiddenTransition,
				"user %s is pending (not confirmed): it has no sessions to revoke", u.ID)
		}
		if u.SessionRevoked(c.SessionID) {
			return unchanged("session %s of user %s is already revoked", c.SessionID, u.ID), nil
		}
		return d.emit(u, cmd, events.SessionRevoked{SessionID: c.SessionID}), nil

	case *events.RevokeSessions:
		// Never unchanged: each revocation moves revoked_before forward.
		return d.emitRevoking(u, cmd, func(t time.Time) events.Payload { return events.SessionsRevoked{RevokedBefore: t} }), nil
	}
	return Decision{}, events.Errorf(events.CodeUnknownCommand, "no rule for command %s", cmd.CommandName())
}

// decidePurged records a service's erasure receipt for a deleted user. A
// service's first receipt is the one kept: a second (a redelivered
// UserDeleted handled again, a service restarted) changes nothing, whatever
// count it reports, so a receipt never moves once given.
func (d Decider) decidePurged(u User, c *events.RecordDataPurged) Decision {
	if p, ok := u.DataPurged(c.Service); ok {
		return unchanged("service %s already recorded the purge of user %s (%d items at %s)",
			c.Service, u.ID, p.ItemsRemoved, p.At.Format(time.RFC3339))
	}
	return d.emit(u, c, events.UserDataPurged{Service: c.Service, ItemsRemoved: c.ItemsRemoved})
}

func unchanged(format string, args ...any) Decision {
	return Decision{Unchanged: true, Message: fmt.Sprintf(format, args...)}
}

func (d Decider) emit(u User, cmd events.Command, p events.Payload) Decision {
	return d.emitAt(d.Now().UTC(), u, cmd, p)
}

// emitRevoking stamps revoked_before with the decision time. The clock is
// kept monotonic per user: a revocation never lands before an earlier one.
func (d Decider) emitRevoking(u User, cmd events.Command, p func(time.Time) events.Payload) Decision {
	now := d.Now().UTC()
	if !now.After(u.RevokedBefore) && !u.RevokedBefore.IsZero() {
		now = u.RevokedBefore.Add(time.Microsecond)
	}
	return d.emitAt(now, u, cmd, p(now))
}

func (d Decider) emitAt(now time.Time, u User, cmd events.Command, p events.Payload) Decision {
	m := cmd.Meta()
	return Decision{Events: []events.Event{{
		ID:            d.NewID(),
		Type:          p.EventType(),
		UserID:        m.UserID,
		OccurredAt:    now,
		Actor:         m.Actor,
		Reason:        m.Reason,
		CommandID:     m.CommandID,
		CorrelationID: m.CorrelationID,
		Data:          p,
	}}}
}
