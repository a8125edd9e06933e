package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/userlife/userlife/adapters/memory"
	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/projections"
)

// TestProjectorSurvivesNATSRestart: the NATS server goes away in the middle
// of a projection and comes back on the same address and store; the
// projector resumes and ends equal to the fold.
func TestProjectorSurvivesNATSRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr := freeAddr(t)
	srv, err := natsadapter.StartServer(natsadapter.ServerConfig{Listen: addr, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := natsadapter.Provision(ctx, js, natsadapter.StreamsConfig{}); err != nil {
		t.Fatal(err)
	}
	evs := lifecycle(2000)
	natstest.PublishEvents(t, js, evs[:5000])

	m := memory.New()
	pr := natsadapter.NewProjectors(js, []projections.Projection{m.Users(), m.Audit()},
		natsadapter.ProjectorConfig{BatchSize: 100, RetryMin: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- pr.Run(runCtx) }()
	for pr.Position() == 0 {
		time.Sleep(time.Millisecond)
	}
	srv.Shutdown()
	t.Logf("NATS stopped with the projection at %d of 5000", pr.Position())
	time.Sleep(500 * time.Millisecond)
	srv, err = natsadapter.StartServer(natsadapter.ServerConfig{Listen: addr, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	for !js.Conn().IsConnected() {
		select {
		case <-ctx.Done():
			t.Fatal("the client did not reconnect")
		case <-time.After(10 * time.Millisecond):
		}
	}
	natstest.PublishEvents(t, js, evs[5000:])
	for pr.Position() < uint64(len(evs)) {
		select {
		case <-ctx.Done():
			t.Fatalf("projection stuck at %d of %d after the restart", pr.Position(), len(evs))
		case <-time.After(10 * time.Millisecond):
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	requireVerified(t, js, m)
}
