package natsbench

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/userlife/userlife/events"
)

// PublishFunc appends one message for user, expecting last as the user's
// last sequence, and returns the new one. op numbers the operation.
type PublishFunc func(ctx context.Context, user string, last uint64, op int) (uint64, error)

// RunPublishers runs publish under load across users users. Goroutine g
// owns the users whose index is g modulo the in-flight count (so no user
// ever has two appends in flight), writes to them round-robin and passes
// each user's last sequence as the expected one.
func RunPublishers(ctx context.Context, load Load, users int, publish PublishFunc) (Result, error) {
	inflight := load.inflight()
	type owned struct {
		ids  []string
		last []uint64
		k    int
	}
	state := make([]owned, inflight)
	for g := range state {
		for u := g; u < max(users, inflight); u += inflight {
			state[g].ids = append(state[g].ids, fmt.Sprintf("u-%05d", u))
		}
		state[g].last = make([]uint64, len(state[g].ids))
	}
	return Run(ctx, load, func(ctx context.Context, g, op int) error {
		s := &state[g]
		i := s.k % len(s.ids)
		s.k++
		seq, err := publish(ctx, s.ids[i], s.last[i], op)
		if err != nil {
			return fmt.Errorf("publish to %s expecting %d: %w", s.ids[i], s.last[i], err)
		}
		s.last[i] = seq
		return nil
	})
}

// rawBody is a SessionsRevoked envelope of the size the service writes.
var rawBody = []byte(`{"id":"0190d6a2-5b7e-7c1a-9f43-1a2b3c4d5e6f","type":"SessionsRevoked","user_id":"USER",` +
	`"occurred_at":"2026-03-14T15:09:26.535897932Z","actor":"admin@example.com","command_id":"CMD",` +
	`"data":{"revoked_before":"2026-03-14T15:09:26.535897932Z"}}`)

// RawPublish is the substrate under the event store's append: a
// synchronous JetStream publish to userlife.events.<user>.SessionsRevoked
// with the optimistic-concurrency headers (expected last sequence of
// userlife.events.<user>.*), no adapter code, on the stream js already has.
//
// prefix replaces "userlife.events" in the subjects ("" keeps it), so the
// anchor can run on a stream of its own beside a running service.
func RawPublish(ctx context.Context, js jetstream.JetStream, prefix string, load Load, users int) (Result, error) {
	subject, filter := events.EventSubject, events.UserEventsFilter
	if prefix != "" {
		subject = func(user string, t events.Type) string { return prefix + "." + user + "." + string(t) }
		filter = func(user string) string { return prefix + "." + user + ".*" }
	}
	return RunPublishers(ctx, load, users, func(ctx context.Context, user string, last uint64, _ int) (uint64, error) {
		msg := nats.NewMsg(subject(user, events.TypeSessionsRevoked))
		msg.Data = rawBody
		msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(last, 10))
		msg.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, filter(user))
		ack, err := js.PublishMsg(ctx, msg)
		if err != nil {
			return 0, err
		}
		return ack.Sequence, nil
	})
}

// RawStream creates a stream configured like source (storage, limits,
// duplicate window, direct get) under another name and subject prefix, for
// RawPublish to write to, and returns the prefix and a function that
// deletes it.
func RawStream(ctx context.Context, js jetstream.JetStream, source, name string) (string, func(context.Context) error, error) {
	s, err := js.Stream(ctx, source)
	if err != nil {
		return "", nil, fmt.Errorf("stream %s: %w", source, err)
	}
	cfg := s.CachedInfo().Config
	prefix := strings.ToLower(name)
	cfg.Name, cfg.Subjects, cfg.Description = name, []string{prefix + ".>"}, "userlife bench: raw publish anchor"
	cfg.Metadata = nil
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		return "", nil, fmt.Errorf("create stream %s: %w", name, err)
	}
	return prefix, func(ctx context.Context) error { return js.DeleteStream(ctx, name) }, nil
}
