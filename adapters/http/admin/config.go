package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// Commands sends a command to the command queue and waits for its outcome.
// Do returns an error wrapping context.DeadlineExceeded when the outcome
// did not come in time (the command may still be handled), and one
// wrapping ErrUnavailable when the command could not be sent.
type Commands interface {
	Do(ctx context.Context, cmd events.Command) (events.Outcome, error)
}

// Outcomes reads stored command outcomes. Outcome returns an error
// wrapping ErrNoOutcome when none is stored.
type Outcomes interface {
	Outcome(ctx context.Context, commandID string) (events.Outcome, error)
}

// Queries is the part of the read side the API uses.
type Queries interface {
	ListUsers(ctx context.Context, q projections.ListQuery) (projections.UserPage, error)
	GetUser(ctx context.Context, id string) (projections.User, error)
	History(ctx context.Context, userID string) ([]projections.AuditEvent, error)
}

var _ Queries = projections.Queries(nil)

// ErrNoOutcome means no outcome is stored for a command id.
var ErrNoOutcome = errors.New("no outcome for this command")

// ErrUnavailable means the command queue could not be reached.
var ErrUnavailable = errors.New("command queue unavailable")

// Config is what the API runs with.
type Config struct {
	Commands Commands
	Outcomes Outcomes
	Queries  Queries
	// Audit, when set, serves GET /v1/audit and GET /v1/users/{id}?at=
	// from the event log itself.
	Audit projections.AuditLogReader
	// WaitProjected, when set, is called after an accepted command with
	// its event's sequence and returns once the queries show it, so a
	// client reading right after a mutation sees its effect.
	WaitProjected func(ctx context.Context, seq uint64) error
	// Tokens are the admin credentials. None: every /v1 route except
	// /v1/openapi.json answers 401 and says how to configure them.
	Tokens []Token
	// NoTokensHint tells operators how to configure tokens; it is in the
	// 401 answers while none is configured.
	NoTokensHint string
	// Erasures, when set, serves GET /v1/users/{id}/erasure; nil: 503.
	Erasures Erasures
	// StateAt, when set, answers GET /v1/users/{id}?at=RFC3339: the user
	// as it was at that instant (a JSON value), or an error wrapping
	// projections.ErrNotFound when it did not exist then. Nil: ?at= is
	// refused with 400 invalid_query.
	StateAt func(ctx context.Context, userID string, at time.Time) (any, error)
	// Console, when set, is served at "/" (the web console).
	Console http.Handler
	// Ready answers /readyz: nil error → 200, else 503. Nil: always 200.
	Ready func(context.Context) error
	// Metrics, when set, is served at /metrics; nil: 404.
	Metrics http.Handler
	// OutcomeTimeout is how long a mutation waits for its outcome before
	// answering 202 (default 10 s).
	OutcomeTimeout time.Duration
	// SessionTTL is how long a console session lives (default 12 h).
	SessionTTL time.Duration
	Logger     *slog.Logger
	Now        func() time.Time // default time.Now
}

// Validate reports every missing dependency at once.
func (c Config) Validate() error {
	var errs []error
	if c.Commands == nil {
		errs = append(errs, errors.New("admin API: Commands is required"))
	}
	if c.Outcomes == nil {
		errs = append(errs, errors.New("admin API: Outcomes is required"))
	}
	if c.Queries == nil {
		errs = append(errs, errors.New("admin API: Queries is required"))
	}
	return errors.Join(errs...)
}

func (c *Config) setDefaults() {
	if c.OutcomeTimeout <= 0 {
		c.OutcomeTimeout = 10 * time.Second
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}
