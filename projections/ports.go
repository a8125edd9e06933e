package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/userlife/userlife/events"
)

// Projection names.
const (
	Users = "users"
	Audit = "audit"
)

// Names lists every projection.
func Names() []string { return []string{Users, Audit} }

// Failure is a stored message a projection could not apply (undecodable,
// unknown type, no reducer, or the reducer refused it). It is recorded and
// skipped so that one bad event does not stall the projection.
type Failure struct {
	Projection string    `json:"projection"`
	Seq        uint64    `json:"seq"`
	Subject    string    `json:"subject"`
	Error      string    `json:"error"`
	Data       []byte    `json:"data,omitempty"`
	At         time.Time `json:"at"`
}

// Message is one stored message of the event stream as a projector reads
// it: decoded when possible, else the decoding error.
type Message struct {
	Seq     uint64
	Subject string
	Data    []byte
	Event   events.Event // valid when Err is nil; Event.Seq == Seq
	Err     error        // why the message could not be decoded
}

// Batch is a run of consecutive stream messages, in order. The event stream
// denies deletes, so its sequences have no gaps: a batch applied to a
// projection at checkpoint c starts at c+1 (messages at or below c are
// redeliveries and are skipped).
type Batch []Message

// Last is the sequence of the batch's last message, 0 if empty.
func (b Batch) Last() uint64 {
	if len(b) == 0 {
		return 0
	}
	return b[len(b)-1].Seq
}

// ErrGap is returned by Apply when a batch starts after checkpoint+1: the
// projector must read again from checkpoint+1 (e.g. after a replay swapped
// in a table built to an earlier sequence).
var ErrGap = errors.New("batch does not follow the checkpoint")

// GapError carries the checkpoint the projector must resume after.
type GapError struct {
	Checkpoint uint64 // the projection's checkpoint
	First      uint64 // the batch's first sequence
}

func (e *GapError) Error() string {
	return fmt.Sprintf("batch starts at %d but the checkpoint is %d", e.First, e.Checkpoint)
}
func (e *GapError) Unwrap() error { return ErrGap }

// Projection is one read model a projector keeps up to date.
type Projection interface {
	// Name is the projection's stable name (Users, Audit).
	Name() string
	// Checkpoint is the sequence of the last stream message applied.
	Checkpoint(ctx context.Context) (uint64, error)
	// Apply applies the batch atomically with the new checkpoint
	// (b.Last()): all of it or none of it. Messages at or below the
	// checkpoint are skipped; messages that cannot be applied are recorded
	// as failures. It returns a *GapError if b starts after checkpoint+1.
	Apply(ctx context.Context, b Batch) error
}

// ErrNotFound is returned for a user that has no row.
var ErrNotFound = errors.New("not found")

// ListQuery selects users. Results are ordered by id; After is the cursor
// (the last id of the previous page).
type ListQuery struct {
	State       string `json:"state,omitempty"`        // pending, confirmed, disabled; empty: all
	EmailPrefix string `json:"email_prefix,omitempty"` // case-insensitive
	After       string `json:"after,omitempty"`
	Limit       int    `json:"limit,omitempty"` // default 50, at most 1000
}

// Normalize applies the defaults and checks the query.
func (q ListQuery) Normalize() (ListQuery, error) {
	switch q.State {
	case "", StatePending, StateConfirmed, StateDisabled:
	default:
		return q, fmt.Errorf("state %q: want pending, confirmed or disabled", q.State)
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	if q.Limit > 1000 {
		q.Limit = 1000
	}
	return q, nil
}

// UserPage is one page of users; Next is the cursor of the next page, empty
// on the last.
type UserPage struct {
	Users []User `json:"users"`
	Next  string `json:"next,omitempty"`
}

// Queries reads the projections.
type Queries interface {
	ListUsers(ctx context.Context, q ListQuery) (UserPage, error)
	// GetUser returns ErrNotFound for an unknown or deleted user.
	GetUser(ctx context.Context, id string) (User, error)
	// History is the user's audit rows in stream order (also after delete).
	History(ctx context.Context, userID string) ([]AuditEvent, error)
	// Failures lists the messages projections recorded as failed.
	Failures(ctx context.Context) ([]Failure, error)
	// Positions returns each projection's checkpoint.
	Positions(ctx context.Context) (map[string]uint64, error)
}
