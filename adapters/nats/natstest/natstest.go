// Package natstest starts real embedded NATS JetStream servers for tests:
// one per test, on a free loopback port, with its own temporary store, so
// tests run in parallel without sharing streams.
package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
)

// Server starts an embedded server that is shut down when the test ends.
func Server(t testing.TB) *natsadapter.Server {
	t.Helper()
	return ServerAt(t, t.TempDir())
}

// ServerAt starts an embedded server on dataDir (reuse the directory to
// restart a server with its streams).
func ServerAt(t testing.TB, dataDir string) *natsadapter.Server {
	t.Helper()
	return ServerWith(t, natsadapter.ServerConfig{DataDir: dataDir})
}

// ServerWith starts a server with cfg; Listen and DataDir default to a
// free loopback port and a temporary directory.
func ServerWith(t testing.TB, cfg natsadapter.ServerConfig) *natsadapter.Server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	s, err := natsadapter.StartServer(cfg)
	if err != nil {
		t.Fatalf("start embedded NATS: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// Connect opens a connection closed when the test ends.
func Connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.SyncQueueLen(natsadapter.SyncQueueLen))
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// Provisioned starts a server with every userlife stream and bucket and
// returns its URL and a JetStream handle.
func Provisioned(t testing.TB) (string, jetstream.JetStream) {
	t.Helper()
	return ProvisionedWith(t, natsadapter.ServerConfig{})
}

// ProvisionedWith is Provisioned on a server started with cfg.
func ProvisionedWith(t testing.TB, cfg natsadapter.ServerConfig) (string, jetstream.JetStream) {
	t.Helper()
	s := ServerWith(t, cfg)
	_, js := Connect(t, s.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := natsadapter.Provision(ctx, js, natsadapter.StreamsConfig{}); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return s.ClientURL(), js
}

// PublishEvents appends evs straight to the event stream, asynchronously
// (a fast way to make a long history), and waits for every
// acknowledgement.
func PublishEvents(t testing.TB, js jetstream.JetStream, evs []events.Event) {
	t.Helper()
	for i, e := range evs {
		data, err := events.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishAsync(events.EventSubject(e.UserID, e.Type), data); err != nil {
			t.Fatal(err)
		}
		if i%1_000 == 999 {
			// Stay well under the client's limit of outstanding async
			// publishes (4,000), which a reconnect would otherwise hit.
			WaitPublished(t, js)
		}
	}
	WaitPublished(t, js)
}

// WaitPublished waits until every asynchronous publish on js is acknowledged.
func WaitPublished(t testing.TB, js jetstream.JetStream) {
	t.Helper()
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(60 * time.Second):
		t.Fatal("async publishes not acknowledged within 60s")
	}
}
