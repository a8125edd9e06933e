package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/userlife/userlife/events"
)

// StateDeleted is the state a user has at a time after its deletion. The
// users projection has no such rows (deleting removes the row); the
// past-state queries show it.
const StateDeleted = "deleted"

// AuditQuery selects events of the log. Zero fields select everything.
type AuditQuery struct {
	UserID string        `json:"user_id,omitempty"`
	Types  []events.Type `json:"types,omitempty"`
	Actor  string        `json:"actor,omitempty"`
	// Since and Until bound the events' occurred_at, both inclusive.
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
}

// Validate joins every problem with the query.
func (q AuditQuery) Validate() error {
	var err error
	if q.UserID != "" && !events.ValidID(q.UserID) {
		err = errors.Join(err, fmt.Errorf("user id %q: want [A-Za-z0-9_-]{1,64}", q.UserID))
	}
	for _, t := range q.Types {
		if !ValidTypeName(t) {
			err = errors.Join(err, fmt.Errorf("event type %q: want a name such as %s (known: %v)", t, events.TypeUserDeleted, events.Types()))
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		err = errors.Join(err, fmt.Errorf("until (%s) is before since (%s)", q.Until.Format(time.RFC3339Nano), q.Since.Format(time.RFC3339Nano)))
	}
	return err
}

// ValidTypeName reports whether t can be an event type in a subject: a
// known type, or a name a newer contract may add (letters and digits), so
// that an audit can ask for types this build does not know yet.
func ValidTypeName(t events.Type) bool {
	if len(t) == 0 || len(t) > 64 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Match reports whether a row satisfies every filter of the query: the
// plain definition that scans are checked against.
func (q AuditQuery) Match(r AuditEvent) bool {
	return (q.UserID == "" || r.UserID == q.UserID) &&
		(len(q.Types) == 0 || slices.Contains(q.Types, r.Type)) &&
		(q.Actor == "" || r.Actor == q.Actor) &&
		(q.Since.IsZero() || !r.OccurredAt.Before(q.Since)) &&
		(q.Until.IsZero() || !r.OccurredAt.After(q.Until))
}

// UserAt is a user as it was at a past instant: the users row the events up
// to At fold into (State "deleted" once deleted), and those events.
type UserAt struct {
	User    User         `json:"user"`
	At      time.Time    `json:"at"`
	History []AuditEvent `json:"history"`
	// Failures are events up to At that the users reducer could not apply
	// (they change nothing), as the users projection records them.
	Failures []string `json:"failures,omitempty"`
}

// NotFoundAtError says a user did not exist at an instant. It matches
// ErrNotFound.
type NotFoundAtError struct {
	UserID string
	At     time.Time
	// RegisteredAt is when the user was registered, zero when it never was.
	RegisteredAt time.Time
}

func (e *NotFoundAtError) Error() string {
	if e.RegisteredAt.IsZero() {
		return fmt.Sprintf("no user %s", e.UserID)
	}
	return fmt.Sprintf("user %s did not exist at %s (registered at %s)", e.UserID,
		e.At.UTC().Format(time.RFC3339Nano), e.RegisteredAt.UTC().Format(time.RFC3339Nano))
}

func (e *NotFoundAtError) Unwrap() error { return ErrNotFound }

// UserFold folds one user's events in stream order with the users reducer,
// keeping a deleted user's last row with State "deleted".
type UserFold struct {
	Row      *User
	Failures []string
}

// Apply folds one event (Seq set). An event the reducer refuses changes
// nothing but is noted in Failures, as the users projection does; an
// event of a type the users reducer has no rule for (a type a newer
// contract added) changes nothing and is no failure.
func (f *UserFold) Apply(e events.Event) {
	if f.Row != nil && f.Row.State == StateDeleted {
		f.Failures = append(f.Failures, fmt.Sprintf("seq %d: %s after the user was deleted", e.Seq, e.Type))
		return
	}
	next, err := ReduceUser(f.Row, e)
	if errors.Is(err, ErrNoReducer) {
		return
	}
	if err != nil {
		f.Failures = append(f.Failures, fmt.Sprintf("seq %d: %v", e.Seq, err))
		return
	}
	if next == nil && f.Row != nil {
		gone := *f.Row
		gone.State, gone.DeletedAt = StateDeleted, e.OccurredAt
		if d, ok := e.Data.(events.UserDeleted); ok {
			gone.RevokedBefore = later(gone.RevokedBefore, d.RevokedBefore)
		}
		gone.Version, gone.UpdatedAt = e.Seq, e.OccurredAt
		next = &gone
	}
	f.Row = next
}

// Fail notes a message that could not be decoded.
func (f *UserFold) Fail(seq uint64, err error) {
	f.Failures = append(f.Failures, fmt.Sprintf("seq %d: %v", seq, err))
}

// ErrUndecodable is matched by the error an audit returns after delivering
// every row when some stored messages could not be read as events.
var ErrUndecodable = errors.New("stored messages that are not events were skipped")

// AuditLogReader answers audit queries from the event log itself.
type AuditLogReader interface {
	// Audit calls fn with each matching event in stream order; an error
	// from fn ends the scan and is returned.
	Audit(ctx context.Context, q AuditQuery, fn func(AuditEvent) error) error
	// StateAt folds the user's events up to at; a user that did not exist
	// then is a *NotFoundAtError (matching ErrNotFound).
	StateAt(ctx context.Context, userID string, at time.Time) (UserAt, error)
	// ListAt lists the users that were in state at at, ordered by id.
	ListAt(ctx context.Context, state string, at time.Time) ([]User, error)
}

// ValidStateAt checks a state name for ListAt.
func ValidStateAt(state string) error {
	switch state {
	case StatePending, StateConfirmed, StateDisabled, StateDeleted:
		return nil
	}
	return fmt.Errorf("state %q: want pending, confirmed, disabled or deleted", state)
}
