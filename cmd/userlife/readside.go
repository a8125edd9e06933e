package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/postgres"
	"github.com/userlife/userlife/projections"
)

// version is reported by the query service.
const version = "0.1.0"

// stores is the read side's storage: the embedded in-memory default or
// PostgreSQL.
type stores struct {
	kind       string // "memory" or "postgres"
	users      projections.Projection
	audit      projections.Projection
	queries    projections.Queries
	maxLatency time.Duration // how long a projector batch waits to grow
	close      func()
	pg         *postgres.Store // when kind is "postgres"

	// revocations is the revocation view as a PostgreSQL table, kept by
	// serve beside the KV bucket; nil in memory.
	revocations projections.Projection
}

// all lists the projections serve keeps in the store.
func (st *stores) all() []projections.Projection {
	ps := []projections.Projection{st.users, st.audit}
	if st.revocations != nil {
		ps = append(ps, st.revocations)
	}
	return ps
}

// readSide runs one projector per projection and answers queries.
type readSide struct {
	st         *stores
	projectors []*natsadapter.Projector
	view       *natsadapter.RevocationView
	svc        micro.Service
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

// startReadSide catches every projection up with the stream (a rebuild, for
// the in-memory default), then keeps them current and serves queries.
func startReadSide(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, st *stores, log *slog.Logger) (*readSide, error) {
	rs := &readSide{st: st}
	cfg := natsadapter.ProjectorConfig{MaxLatency: st.maxLatency, Logger: log.With("store", st.kind)}
	if st.kind == "memory" {
		// In memory, applying is cheap and reading and decoding dominate:
		// one reader feeds both projections.
		rs.projectors = append(rs.projectors, natsadapter.NewProjectors(js, []projections.Projection{st.users, st.audit}, cfg))
	} else {
		// In PostgreSQL, each projection's transactions run side by side.
		for _, p := range []projections.Projection{st.users, st.audit, st.revocations} {
			if p != nil {
				rs.projectors = append(rs.projectors, natsadapter.NewProjector(js, p, cfg))
			}
		}
	}
	view, err := natsadapter.NewRevocationView(ctx, js, log)
	if err != nil {
		return nil, err
	}
	rs.view = view
	// The view writes to NATS, not to the store, and every gateway waits
	// for it: its batches never wait to grow, whatever the store's
	// MaxLatency. They still take every event already at hand.
	viewCfg := cfg
	viewCfg.MaxLatency = 0
	rs.projectors = append(rs.projectors, natsadapter.NewProjector(js, view, viewCfg))
	begin := time.Now()
	for _, pr := range rs.projectors {
		if err := pr.CatchUp(ctx); err != nil {
			return nil, fmt.Errorf("catch up projections: %w", err)
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	log.Info("projections ready", "store", st.kind, "position", rs.projectors[0].Position(),
		"seconds", time.Since(begin).Round(time.Millisecond).Seconds())
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	rs.cancel = cancel
	for _, pr := range rs.projectors {
		rs.wg.Go(func() { _ = pr.Run(runCtx) })
	}
	rs.wg.Go(func() { view.RunHeartbeat(runCtx) })
	keys, err := natsadapter.NewKeyVault(ctx, js)
	if err != nil {
		rs.close()
		return nil, err
	}
	st.queries = natsadapter.OpeningQueries(st.queries, keys)
	svc, err := natsadapter.ServeQueries(nc, st.queries, version)
	if err != nil {
		rs.close()
		return nil, err
	}
	rs.svc = svc
	return rs, nil
}

// close stops answering queries, then the projectors (each finishes or
// abandons its current batch; an abandoned batch is not committed and is
// read again at the next start).
func (rs *readSide) close() error {
	var err error
	if rs.svc != nil {
		err = rs.svc.Stop()
	}
	if rs.cancel != nil {
		rs.cancel()
	}
	rs.wg.Wait()
	if rs.st.close != nil {
		rs.st.close()
	}
	return err
}
