package domain

import (
	"context"
	"errors"
	"time"

	"github.com/userlife/userlife/events"
)

// ErrConflict means another writer appended to the user since it was
// loaded: load again and decide again.
var ErrConflict = errors.New("concurrent update of the same user")

// EventStore is the user's event history.
type EventStore interface {
	// Load returns the user's events in stream order, each with Seq set;
	// none for an unknown user.
	Load(ctx context.Context, userID string) ([]events.Event, error)
	// Append stores evs if the user's version is still expectedVersion and
	// returns the sequence of the last one. It returns ErrConflict when the
	// version moved. Appending the same command's events again (a retry
	// after a lost ack) returns the stored sequence, not a conflict.
	Append(ctx context.Context, userID string, expectedVersion uint64, evs []events.Event) (uint64, error)
}

// EmailClaim describes who holds an email.
type EmailClaim struct {
	Owner    string        // user id holding the email
	Revision uint64        // revision of the claim, for Takeover
	Age      time.Duration // how long ago the claim was made
}

// EmailRegistry keeps emails unique among live users. Keys are normalized
// (NormalizeEmail) by the caller.
type EmailRegistry interface {
	// Claim reserves email for userID if nobody holds it and returns the
	// current claim (whose Owner is userID on success).
	Claim(ctx context.Context, email, userID string) (EmailClaim, error)
	// Takeover moves a stale claim to userID if it is still at revision.
	// It returns ErrConflict if the claim changed meanwhile.
	Takeover(ctx context.Context, email, userID string, revision uint64) error
	// Release frees email if userID holds it.
	Release(ctx context.Context, email, userID string) error
}
