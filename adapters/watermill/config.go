package watermill

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/userlife/userlife/events"
)

// Handler decides one command and returns its outcome; domain.Service is
// the implementation. An error means "not decided": domain.ErrConflict is
// retried at once, anything else is redelivered later.
type Handler interface {
	Handle(ctx context.Context, cmd events.Command) (events.Outcome, error)
}

// OutcomePublisher stores a command's outcome.
type OutcomePublisher interface {
	Publish(ctx context.Context, o events.Outcome) error
}

// OutcomeStore is an OutcomePublisher that also reads stored outcomes back.
// With one, a command delivered again after its outcome was stored (its
// acknowledgement was lost: the process was killed, the connection or a
// cluster node dropped) keeps that outcome instead of being decided again
// on a state that may have changed since; otherwise a disable answered
// "unchanged" could still disable the user later, after a newer enable.
type OutcomeStore interface {
	OutcomePublisher
	// Stored returns the stored outcome of commandID and whether there is one.
	Stored(ctx context.Context, commandID string) (events.Outcome, bool, error)
}

// Config configures the intake. Zero values take the defaults shown.
type Config struct {
	// NATSURL and NATSOptions open the connections the intake owns (one
	// per command subscriber and one for the poison publisher).
	NATSURL     string
	NATSOptions []nats.Option

	Handler  Handler
	Outcomes OutcomePublisher

	// CommandStream is the work-queue stream holding the command subjects.
	CommandStream string // USERLIFE_CMD
	// Concurrency is how many commands of one type are handled at once by
	// this process.
	Concurrency int // 16
	// AckWait is how long the server waits for an ack before redelivering.
	AckWait time.Duration // 30s
	// MaxDeliver bounds deliveries of one command; the last failed delivery
	// sends it to the poison stream.
	MaxDeliver int // 20
	// ConflictRetries bounds immediate re-decisions after write conflicts.
	ConflictRetries int // 10
	// CloseTimeout bounds how long Close waits for commands in flight.
	CloseTimeout time.Duration // 30s

	// OnOutcome, if set, is called once for every outcome the intake
	// publishes (accepted, unchanged or rejected, including commands that
	// did not decode and unknown command subjects), after it is stored.
	// It runs on the handling goroutine: keep it quick.
	OnOutcome func(OutcomeParams)

	Logger *slog.Logger
}

// OutcomeParams describes one published outcome.
type OutcomeParams struct {
	Outcome events.Outcome
	// Took is from the moment this process took the command off the queue
	// (this delivery) to its outcome being stored; time spent queued is
	// not included.
	Took time.Duration
}

func (c *Config) setDefaults() {
	if c.CommandStream == "" {
		c.CommandStream = "USERLIFE_CMD"
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 16
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = 20
	}
	if c.ConflictRetries <= 0 {
		c.ConflictRetries = 10
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate joins every problem with the configuration.
func (c Config) Validate() error {
	var err error
	if c.NATSURL == "" {
		err = errors.Join(err, errors.New("NATSURL is required"))
	}
	if c.Handler == nil {
		err = errors.Join(err, errors.New("Handler is required"))
	}
	if c.Outcomes == nil {
		err = errors.Join(err, errors.New("Outcomes is required"))
	}
	if c.AckWait < time.Second {
		err = errors.Join(err, errors.New("AckWait must be at least 1s"))
	}
	if c.MaxDeliver < 2 {
		err = errors.Join(err, errors.New("MaxDeliver must be at least 2"))
	}
	return err
}
