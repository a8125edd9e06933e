package nats_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
)

func TestStartServerRefusesBadConfig(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { taken.Close() })
	addr := taken.Addr().String()

	tests := []struct {
		name       string
		cfg        natsadapter.ServerConfig
		wantIs     error    // nil: only an error is required
		wantInText []string // substrings of the message
	}{
		{
			name:       "listen address taken",
			cfg:        natsadapter.ServerConfig{Listen: addr, DataDir: t.TempDir()},
			wantIs:     natsadapter.ErrAddressInUse,
			wantInText: []string{addr, "--nats-listen"},
		},
		{
			name:       "no data directory",
			cfg:        natsadapter.ServerConfig{Listen: "127.0.0.1:0"},
			wantInText: []string{"data directory"},
		},
		{
			name:       "no port",
			cfg:        natsadapter.ServerConfig{Listen: "127.0.0.1", DataDir: t.TempDir()},
			wantInText: []string{"127.0.0.1"},
		},
		{
			name:       "port out of range",
			cfg:        natsadapter.ServerConfig{Listen: "127.0.0.1:70000", DataDir: t.TempDir()},
			wantInText: []string{"bad port"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := natsadapter.StartServer(tt.cfg)
			if err == nil {
				s.Shutdown()
				t.Fatalf("StartServer(%+v) succeeded, want an error", tt.cfg)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("StartServer error = %v, want errors.Is %v", err, tt.wantIs)
			}
			for _, want := range tt.wantInText {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("StartServer error = %q, want it to mention %q", err, want)
				}
			}
		})
	}
}

// A listen failure other than a taken port must not be reported as one.
func TestStartServerListenFailureIsNotAddressInUse(t *testing.T) {
	t.Parallel()
	const addr = "192.0.2.1:4222" // TEST-NET-1: not an address of this host
	if l, err := net.Listen("tcp", addr); err == nil {
		l.Close()
		msg := fmt.Sprintf("this host can listen on %s; the case needs an address it cannot use", addr)
		skipOutsideCI(t, msg)
	}
	s, err := natsadapter.StartServer(natsadapter.ServerConfig{Listen: addr, DataDir: t.TempDir()})
	if err == nil {
		s.Shutdown()
		t.Fatalf("StartServer on %s succeeded, want an error", addr)
	}
	if errors.Is(err, natsadapter.ErrAddressInUse) {
		t.Errorf("StartServer error = %v, want no ErrAddressInUse for an address this host lacks", err)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("StartServer error = %q, want it to mention %s", err, addr)
	}
}

func TestStartServerKeepsStreamsAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := natsadapter.StartServer(natsadapter.ServerConfig{Listen: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatalf("StartServer: %v", err)
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		s.Shutdown()
		t.Fatalf("connect: %v", err)
	}
	js, _ := jetstream.New(nc)
	if err := natsadapter.Provision(testContext(t), js, natsadapter.StreamsConfig{}); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	store, err := natsadapter.NewEventStore(testContext(t), js)
	if err != nil {
		t.Fatalf("NewEventStore: %v", err)
	}
	seq := appendOK(t, store, "u-1", 0, registered("u-1", "c-1", "a@x.com"))
	nc.Close()
	s.Shutdown()

	s2 := natstest.ServerAt(t, dir)
	_, js2 := natstest.Connect(t, s2.ClientURL())
	store2, err := natsadapter.NewEventStore(testContext(t), js2)
	if err != nil {
		t.Fatalf("NewEventStore after restart: %v", err)
	}
	evs, err := store2.Load(testContext(t), "u-1")
	if err != nil {
		t.Fatalf("Load after restart: %v", err)
	}
	if len(evs) != 1 || evs[0].Seq != seq {
		t.Errorf("after restart Load = %+v, want one event at seq %d", evs, seq)
	}
}

func TestCheckServerAcceptsEmbedded(t *testing.T) {
	t.Parallel()
	_, js := natstest.Connect(t, natstest.Server(t).ClientURL())
	if err := natsadapter.CheckServer(testContext(t), js); err != nil {
		t.Errorf("CheckServer(embedded) = %v, want nil", err)
	}
}

func TestCheckServerRefusesNoJetStream(t *testing.T) {
	t.Parallel()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server without JetStream did not start")
	}
	_, js := natstest.Connect(t, ns.ClientURL())
	err = natsadapter.CheckServer(testContext(t), js)
	if err == nil || !strings.Contains(err.Error(), "-js") {
		t.Errorf("CheckServer(no JetStream) = %v, want an error telling to start it with -js", err)
	}
}

// oldServerURL is the Debian NATS 2.9 server this machine runs.
const oldServerURL = "nats://127.0.0.1:4222"

const startOldServer = "start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server"

// TestCheckServerRefusesOldServer only reads from that server: it must never
// create streams there.
func TestCheckServerRefusesOldServer(t *testing.T) {
	t.Parallel()
	nc, err := nats.Connect(oldServerURL, nats.Timeout(2*time.Second), nats.MaxReconnects(0))
	if err != nil {
		msg := "no NATS 2.9 server at " + oldServerURL + " (" + err.Error() + "); start it with: " + startOldServer
		skipOutsideCI(t, msg)
	}
	t.Cleanup(nc.Close)
	if v := nc.ConnectedServerVersion(); !strings.HasPrefix(v, "2.9.") && !strings.HasPrefix(v, "2.10.") {
		msg := fmt.Sprintf("the server at %s is %s, not an old one (2.9/2.10); nothing to refuse", oldServerURL, v)
		skipOutsideCI(t, msg)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}

	err = natsadapter.CheckServer(testContext(t), js)
	if !errors.Is(err, natsadapter.ErrServerTooOld) {
		t.Fatalf("CheckServer(%s) = %v, want ErrServerTooOld", nc.ConnectedServerVersion(), err)
	}
	for _, want := range []string{"2.12", nc.ConnectedServerVersion()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("CheckServer error = %q, want it to mention %q", err, want)
		}
	}
}

// skipOutsideCI skips a test whose host lacks what it needs; in CI
// (CI=true), where the host is set up for every test, it fails instead.
func skipOutsideCI(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
