package nats

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/userlife/userlife/events"
)

// Stream and bucket names.
const (
	EventsStream  = "USERLIFE_EVENTS"
	CommandStream = "USERLIFE_CMD"
	ResultsStream = "USERLIFE_RESULTS"
	PoisonStream  = "USERLIFE_POISON"
	EmailsBucket  = "userlife_emails"
)

// StoredResultSubjectPrefix is where the results stream republishes each
// outcome once it has stored it: userlife.outcomes.<command_id>. A message
// there is an outcome the stream holds; one on userlife.results.<id> may
// not be stored yet (or ever).
const StoredResultSubjectPrefix = "userlife.outcomes."

// StoredResultSubject is where the outcome of commandID is republished.
func StoredResultSubject(commandID string) string { return StoredResultSubjectPrefix + commandID }

// StreamsConfig sizes the streams.
type StreamsConfig struct {
	// Replicas for every stream and bucket (1 on a single server, 3 in a
	// cluster for durability).
	Replicas int
	// ResultsMaxAge is how long command outcomes are kept (at least 1h).
	ResultsMaxAge time.Duration
	// DuplicateWindow for commands and events (at least 2m).
	DuplicateWindow time.Duration
}

func (c *StreamsConfig) setDefaults() {
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.ResultsMaxAge <= 0 {
		c.ResultsMaxAge = 24 * time.Hour
	}
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = 2 * time.Minute
	}
}

// Validate joins every problem with the configuration. Zero fields mean
// their defaults, as in Provision.
func (c StreamsConfig) Validate() error {
	c.setDefaults()
	var err error
	if c.ResultsMaxAge < time.Hour {
		err = errors.Join(err, fmt.Errorf("results are kept at least 1h, got %s", c.ResultsMaxAge))
	}
	if c.DuplicateWindow < 2*time.Minute {
		err = errors.Join(err, fmt.Errorf("the duplicate window must be at least 2m, got %s", c.DuplicateWindow))
	}
	if c.Replicas != 1 && c.Replicas != 3 && c.Replicas != 5 {
		err = errors.Join(err, fmt.Errorf("replicas must be 1, 3 or 5, got %d", c.Replicas))
	}
	return err
}

// CommandSubjects are the subjects the command stream accepts, one per
// known command.
func CommandSubjects() []string {
	names := events.CommandNames()
	subjects := make([]string, len(names))
	for i, n := range names {
		subjects[i] = events.CommandSubject(n)
	}
	return subjects
}

// Provision checks the server version and creates or updates every stream
// and bucket userlife uses. It is idempotent and safe to run from several
// processes at once.
func Provision(ctx context.Context, js jetstream.JetStream, cfg StreamsConfig) error {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := CheckServer(ctx, js); err != nil {
		return err
	}
	streams := []jetstream.StreamConfig{
		{
			Name:        EventsStream,
			Description: "userlife lifecycle events, the source of truth; kept forever",
			Subjects:    []string{events.EventSubjectPrefix + ">"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			Duplicates:  cfg.DuplicateWindow,
			DenyDelete:  true,
			DenyPurge:   true,
			AllowDirect: true,
		},
		{
			Name:        CommandStream,
			Description: "userlife admin commands, a work queue",
			Subjects:    CommandSubjects(),
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			Duplicates:  cfg.DuplicateWindow,
		},
		{
			Name:              ResultsStream,
			Description:       "userlife command outcomes, one per command id",
			Subjects:          []string{events.ResultSubjectPrefix + ">"},
			Retention:         jetstream.LimitsPolicy,
			Storage:           jetstream.FileStorage,
			Replicas:          cfg.Replicas,
			MaxAge:            cfg.ResultsMaxAge,
			MaxMsgsPerSubject: 1,
			AllowDirect:       true,
			// Waiting clients hear the outcome once stored, without
			// reading it back from the stream.
			RePublish: &jetstream.RePublish{
				Source:      events.ResultSubjectPrefix + ">",
				Destination: StoredResultSubjectPrefix + ">",
			},
		},
		{
			Name:              KeysStream,
			Description:       "userlife data keys: one AES-256 key per user sealing its personal fields in events; securely deleted with the user",
			Subjects:          []string{"userlife.keys.*"},
			Retention:         jetstream.LimitsPolicy,
			Storage:           jetstream.FileStorage,
			Replicas:          cfg.Replicas,
			MaxMsgsPerSubject: 1,
			AllowDirect:       true,
		},
		{
			Name:        PoisonStream,
			Description: "userlife commands that could not be handled, with the reason",
			Subjects:    []string{events.PoisonSubjectPrefix + ">"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			AllowDirect: true,
		},
	}
	for _, sc := range streams {
		s, err := js.CreateOrUpdateStream(ctx, sc)
		if err != nil {
			return fmt.Errorf("provision stream %s: %w", sc.Name, err)
		}
		// Older or misconfigured servers drop flags they don't know.
		got := s.CachedInfo().Config
		if got.AllowDirect != sc.AllowDirect || got.DenyDelete != sc.DenyDelete || got.Retention != sc.Retention ||
			(got.RePublish == nil) != (sc.RePublish == nil) {
			return fmt.Errorf("stream %s: the server did not keep its configuration (allow_direct=%v deny_delete=%v retention=%v republish=%v)",
				sc.Name, got.AllowDirect, got.DenyDelete, got.Retention, got.RePublish != nil)
		}
	}
	for _, kvc := range []jetstream.KeyValueConfig{
		{Bucket: RevocationsBucket, Description: "userlife revocation view: user id -> {state, revoked_before, revoked_sessions, revision}"},
		{Bucket: CheckpointsBucket, Description: "userlife checkpoints of the projections kept in NATS"},
		{Bucket: DataServicesBucket, Description: "userlife data services owing erasure receipts: service name -> {service, registered_at, description}"},
	} {
		kvc.History, kvc.Storage, kvc.Replicas = 1, jetstream.FileStorage, cfg.Replicas
		if _, err := js.CreateOrUpdateKeyValue(ctx, kvc); err != nil {
			return fmt.Errorf("provision KV bucket %s: %w", kvc.Bucket, err)
		}
	}
	if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      EmailsBucket,
		Description: "userlife email claims: normalized email hash -> user id",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	}); err != nil {
		return fmt.Errorf("provision KV bucket %s: %w", EmailsBucket, err)
	}
	return nil
}
