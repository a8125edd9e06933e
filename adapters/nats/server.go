package nats

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerConfig configures the embedded NATS server.
type ServerConfig struct {
	// Listen is host:port for clients, e.g. "127.0.0.1:4222"; port 0 picks
	// a free port.
	Listen string
	// DataDir holds JetStream's files (DataDir/jetstream).
	DataDir string
	// SyncAlways fsyncs every write before acknowledging it. Off, JetStream
	// acks once the write reaches the OS and fsyncs every SyncInterval.
	SyncAlways bool
	// SyncInterval overrides the periodic fsync interval (server default 2m).
	SyncInterval time.Duration
	// Name of the server; "userlife" when empty.
	Name   string
	Logger *slog.Logger
}

// Server is a running embedded NATS server with JetStream.
type Server struct {
	ns *server.Server
}

// ErrAddressInUse is returned when the listen address is taken.
var ErrAddressInUse = errors.New("address already in use")

// StartServer starts an embedded NATS server and waits until it accepts
// clients.
func StartServer(cfg ServerConfig) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("embedded NATS: a data directory is required")
	}
	host, portStr, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: listen address %q: %w", cfg.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("embedded NATS: listen address %q: bad port", cfg.Listen)
	}
	if port != 0 {
		// The server only logs a failed listen; probe first so the user is
		// told plainly.
		l, err := net.Listen("tcp", cfg.Listen)
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("embedded NATS cannot listen on %s: %w (another NATS server or program is using it; "+
				"choose another address with --nats-listen, or use that server with --nats nats://%s if it is NATS ≥ 2.12)",
				cfg.Listen, ErrAddressInUse, cfg.Listen)
		}
		if err != nil {
			// Not a taken port (e.g. an address this host lacks, or a
			// privileged port): say what really failed.
			return nil, fmt.Errorf("embedded NATS cannot listen on %s (choose another address with --nats-listen): %w", cfg.Listen, err)
		}
		l.Close()
	} else {
		port = server.RANDOM_PORT
	}
	name := cfg.Name
	if name == "" {
		name = "userlife"
	}
	opts := &server.Options{
		ServerName:   name,
		Host:         host,
		Port:         port,
		JetStream:    true,
		StoreDir:     filepath.Join(cfg.DataDir),
		SyncAlways:   cfg.SyncAlways,
		SyncInterval: cfg.SyncInterval,
		NoSigs:       true,
		MaxPayload:   1 << 20,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	if cfg.Logger != nil {
		ns.SetLoggerV2(&serverLogger{l: cfg.Logger.With("component", "nats-server")}, false, false, false)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded NATS did not become ready on %s within 30s", cfg.Listen)
	}
	return &Server{ns: ns}, nil
}

// ClientURL is the nats:// URL clients connect to.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// Shutdown stops the server, flushing JetStream to disk.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// serverLogger adapts slog to the server's logger; notices and debug lines
// go to debug so the server does not drown the service's own log.
type serverLogger struct{ l *slog.Logger }

func (s *serverLogger) Noticef(f string, v ...any) { s.l.Debug(fmt.Sprintf(f, v...)) }
func (s *serverLogger) Warnf(f string, v ...any)   { s.l.Warn(fmt.Sprintf(f, v...)) }
func (s *serverLogger) Fatalf(f string, v ...any)  { s.l.Error(fmt.Sprintf(f, v...)) }
func (s *serverLogger) Errorf(f string, v ...any)  { s.l.Error(fmt.Sprintf(f, v...)) }
func (s *serverLogger) Debugf(f string, v ...any)  { s.l.Debug(fmt.Sprintf(f, v...)) }
func (s *serverLogger) Tracef(f string, v ...any)  {}
