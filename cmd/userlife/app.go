package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	httpadapter "github.com/userlife/userlife/adapters/http"
	"github.com/userlife/userlife/adapters/http/admin"
	"github.com/userlife/userlife/adapters/metrics"
	natsadapter "github.com/userlife/userlife/adapters/nats"
	wmintake "github.com/userlife/userlife/adapters/watermill"
	"github.com/userlife/userlife/domain"
)

// ServeConfig is what `userlife serve` runs with.
type ServeConfig struct {
	DataDir     string        // embedded server's JetStream directory
	NATSListen  string        // embedded server's client address
	NATSURL     string        // external server instead of the embedded one
	NATSOptions []nats.Option // credentials and TLS for NATSURL (natsadapter.ClientAuth)
	SyncAlways  bool          // fsync every write before acking (embedded server)
	Replicas    int           // stream replicas (external cluster)
	Concurrency int           // commands of one type in flight per process
	AckWait     time.Duration // redelivery delay of a command whose handler died
	CacheUsers  int           // users whose state is kept in memory
	PostgresURL string        // PostgreSQL for the projections; empty: in memory
	Logger      *slog.Logger
	// HTTPListen is the HTTP address (GET /healthz, POST /v1/introspect);
	// empty: no HTTP listener. `serve --http` defaults to DefaultHTTPListen.
	HTTPListen string
	// Verifier and IntrospectionTokens (the callers' bearer tokens) turn
	// on token introspection; without both it answers 404.
	Verifier            httpadapter.Verifier
	IntrospectionTokens []string
	// AdminTokens are the admin API's credentials; without any, /v1
	// answers 401 and says how to configure them.
	AdminTokens []admin.Token
	// AdminOutcomeTimeout is how long an API mutation waits for its
	// outcome before answering 202 (default 10 s).
	AdminOutcomeTimeout time.Duration
	// Console (the web console) is served at "/" of the HTTP listener.
	Console http.Handler
	// Ready answers /readyz (default: 200 while connected to NATS);
	// Metrics is served at /metrics (default: 404).
	Ready   func(context.Context) error
	Metrics http.Handler
	// ReadyMaxLag is how many events a projection may be behind the
	// stream while GET /readyz answers 200 (0: DefaultReadyMaxLag).
	ReadyMaxLag uint64
}

// App is a running service: the embedded NATS server (unless external),
// provisioned streams and the command intake.
type App struct {
	cfg    ServeConfig
	log    *slog.Logger
	server *natsadapter.Server
	nc     *nats.Conn
	intake *wmintake.Intake
	read   *readSide
	http   *httpSide
	done   chan error

	metrics *metrics.Metrics // what GET /metrics and GET /readyz report
	// NATSURL is where clients reach the NATS server.
	NATSURL string
	// HTTPAddr is the HTTP listener's address ("" without one).
	HTTPAddr string
}

// Start brings the service up and returns once it consumes commands.
func Start(ctx context.Context, cfg ServeConfig) (*App, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &App{cfg: cfg, log: log, done: make(chan error, 1), metrics: metrics.New(log)}
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()
	if cfg.HTTPListen != "" {
		var err error
		if a.http, err = listenHTTP(cfg.HTTPListen); err != nil {
			return nil, err
		}
		a.HTTPAddr = a.http.ln.Addr().String()
	}
	a.NATSURL = cfg.NATSURL
	if a.NATSURL == "" {
		dir, err := filepath.Abs(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		a.server, err = natsadapter.StartServer(natsadapter.ServerConfig{
			Listen: cfg.NATSListen, DataDir: dir, SyncAlways: cfg.SyncAlways, Logger: log,
		})
		if err != nil {
			return nil, err
		}
		a.NATSURL = a.server.ClientURL()
	}
	var err error
	a.nc, err = natsadapter.Connect(a.NATSURL, "userlife-serve", log, cfg.NATSOptions...)
	if err != nil {
		if cfg.NATSURL != "" {
			return nil, fmt.Errorf("%w (--nats or USERLIFE_NATS is set, so serve uses that external server instead of "+
				"starting its embedded one; unset it to run the embedded server)", err)
		}
		return nil, err
	}
	js, err := jetstream.New(a.nc)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := natsadapter.Provision(pctx, js, natsadapter.StreamsConfig{Replicas: cfg.Replicas}); err != nil {
		return nil, err
	}
	store, err := natsadapter.NewEventStore(pctx, js)
	if err != nil {
		return nil, err
	}
	emails, err := natsadapter.NewEmailRegistry(pctx, js)
	if err != nil {
		return nil, err
	}
	results, err := natsadapter.NewResults(pctx, js)
	if err != nil {
		return nil, err
	}
	svc := &domain.Service{
		Store:  a.metrics.TimeAppends(store),
		Emails: emails,
		Decider: domain.Decider{
			Now:   time.Now,
			NewID: func() string { return uuid.Must(uuid.NewV7()).String() },
		},
		Logger: log,
		Cache:  domain.NewUserCache(cfg.CacheUsers),
	}
	a.intake, err = wmintake.New(wmintake.Config{
		NATSURL:     a.NATSURL,
		NATSOptions: cfg.NATSOptions,
		Handler:     svc,
		Outcomes:    results,
		Concurrency: cfg.Concurrency,
		AckWait:     cfg.AckWait,
		OnOutcome:   func(p wmintake.OutcomeParams) { a.metrics.Outcome(p.Outcome, p.Took) },
		Logger:      log,
	})
	if err != nil {
		return nil, err
	}
	go func() { a.done <- a.intake.Run(context.WithoutCancel(ctx)) }()
	select {
	case <-a.intake.Running():
	case err := <-a.done:
		return nil, fmt.Errorf("command intake stopped at start: %w", err)
	case <-pctx.Done():
		return nil, fmt.Errorf("command intake did not start: %w", pctx.Err())
	}
	st, err := openStores(ctx, cfg.PostgresURL, log)
	if err != nil {
		return nil, err
	}
	a.read, err = startReadSide(ctx, a.nc, js, st, log)
	if err != nil {
		st.close()
		return nil, err
	}
	if err := trackReadSide(a.metrics, js, a.read); err != nil {
		return nil, err
	}
	if a.http != nil {
		maxLag := cfg.ReadyMaxLag
		if maxLag == 0 {
			maxLag = DefaultReadyMaxLag
		}
		a.http.metrics, a.http.ready = a.metrics.Handler(), readiness(a.metrics, a.nc, js, maxLag)
		api, err := newAdminAPI(ctx, cfg, log, a.nc, js, st.queries)
		if err != nil {
			return nil, err
		}
		if err := a.http.start(ctx, cfg, a.NATSURL, api, log); err != nil {
			return nil, err
		}
	}
	ok = true
	return a, nil
}

// Done reports the intake stopping on its own.
func (a *App) Done() <-chan error { return a.done }

// Close finishes the HTTP requests in flight and stops the listener, then
// stops taking commands, lets those in flight finish and be acked,
// then closes the connection and the embedded server. Commands not acked
// stay queued for the next start.
func (a *App) Close() error {
	var errs error
	if a.http != nil {
		errs = errors.Join(errs, a.http.close())
	}
	if a.intake != nil {
		errs = errors.Join(errs, a.intake.Close())
	}
	if a.read != nil {
		errs = errors.Join(errs, a.read.close())
	}
	if a.nc != nil {
		_ = a.nc.Drain()
	}
	if a.server != nil {
		a.server.Shutdown()
	}
	return errs
}
