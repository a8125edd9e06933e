package natsbench

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// OrderedRead reads the first n messages of stream with an ordered
// consumer, doing nothing with them: the rate any reader of the stream is
// bounded by. It stops early after maxTime (0: no limit).
func OrderedRead(ctx context.Context, js jetstream.JetStream, stream string, n int, maxTime time.Duration) (Result, error) {
	return Scan(ctx, js, stream, n, maxTime, func(jetstream.Msg) error { return nil })
}

// Scan reads the first n messages of stream with an ordered consumer and
// hands each to fn, stopping at n messages, after maxTime (0: no limit) or
// at fn's first error.
func Scan(ctx context.Context, js jetstream.JetStream, stream string, n int, maxTime time.Duration, fn func(jetstream.Msg) error) (Result, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return Result{}, fmt.Errorf("stream %s: %w", stream, err)
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return Result{}, fmt.Errorf("ordered consumer on %s: %w", stream, err)
	}
	it, err := c.Messages(jetstream.PullMaxMessages(2000))
	if err != nil {
		return Result{}, err
	}
	defer it.Stop()
	load := Load{Count: n, MaxTime: maxTime}
	start := time.Now()
	read := 0
	for read < n && !load.over(start) {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		m, err := it.Next()
		if err != nil {
			return Result{}, fmt.Errorf("read %s after %d messages: %w", stream, read, err)
		}
		if err := fn(m); err != nil {
			return Result{}, err
		}
		read++
	}
	return Result{Ops: read, Elapsed: time.Since(start)}, nil
}
