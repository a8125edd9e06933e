package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/userlife/userlife/adapters/metrics"
	natsadapter "github.com/userlife/userlife/adapters/nats"
)

// DefaultReadyMaxLag is `serve --ready-max-lag`'s default: the events a
// projection may be behind the stream while /readyz still answers 200.
const DefaultReadyMaxLag = 10_000

// RevocationViewProjection labels the revocation view (the KV bucket) in
// the projection metrics, apart from the "revocations" table kept in
// PostgreSQL.
const RevocationViewProjection = "revocation_view"

// trackReadSide reports the read side's progress in m.
func trackReadSide(m *metrics.Metrics, js jetstream.JetStream, rs *readSide) error {
	var ps []metrics.Projection
	for _, p := range rs.st.all() {
		ps = append(ps, metrics.Projection{Name: p.Name(), Checkpoint: p.Checkpoint})
	}
	ps = append(ps, metrics.Projection{Name: RevocationViewProjection, Checkpoint: rs.view.Checkpoint})
	return m.Track(metrics.Sources{
		StreamHead:   func(ctx context.Context) (uint64, error) { return natsadapter.EventsHead(ctx, js) },
		Projections:  ps,
		ViewRevision: rs.view.Position,
	})
}

// readiness is /readyz: the NATS connection, then the streams, then the
// projections' lag.
func readiness(m *metrics.Metrics, nc *nats.Conn, js jetstream.JetStream, maxLag uint64) *metrics.Readiness {
	return metrics.NewReadiness(0,
		metrics.Check{Name: "nats", Gate: true, Run: func(context.Context) (string, error) {
			if s := nc.Status(); s != nats.CONNECTED {
				// The URL is left out: it may carry credentials, and /readyz is public.
				return "", fmt.Errorf("connection to NATS is %s", strings.ToLower(s.String()))
			}
			return fmt.Sprintf("connected to %s (server %s)", nc.ConnectedUrlRedacted(), nc.ConnectedServerVersion()), nil
		}},
		metrics.Check{Name: "streams", Run: func(ctx context.Context) (string, error) {
			return natsadapter.CheckProvisioned(ctx, js)
		}},
		m.ProjectionsCheck(maxLag),
	)
}

// validateReadyMaxLag refuses a bound no projection can keep.
func validateReadyMaxLag(n int) error {
	if n < 1 {
		return errors.New("--ready-max-lag must be at least 1 (events a projection may be behind while /readyz says ready)")
	}
	return nil
}
