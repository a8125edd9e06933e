package natsbench

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// RoundTrips measures core NATS request-reply on nc: a responder on the
// same connection answers an empty message, one request at a time.
func RoundTrips(ctx context.Context, nc *nats.Conn, load Load) (Result, error) {
	subject := "_userlife_bench.echo." + nats.NewInbox()[len(nats.InboxPrefix):]
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) { _ = m.Respond(nil) })
	if err != nil {
		return Result{}, fmt.Errorf("round trip responder: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := nc.FlushWithContext(fctx); err != nil {
		return Result{}, err
	}
	lat := make([]time.Duration, 0, load.Count)
	start := time.Now()
	for len(lat) < load.Count && !load.over(start) {
		t0 := time.Now()
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := nc.RequestWithContext(rctx, subject, nil)
		cancel()
		if err != nil {
			return Result{}, fmt.Errorf("round trip: %w", err)
		}
		lat = append(lat, time.Since(t0))
	}
	return newResult(len(lat), time.Since(start), lat), nil
}
