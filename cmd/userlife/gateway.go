package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/urfave/cli/v3"

	httpadapter "github.com/userlife/userlife/adapters/http"
	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/projections/revocation"
)

// GatewayHeartbeatEvery is how often a gateway reports on
// GatewaySubjectPrefix+<id> (a gatewayBeat, see enforced.go).
const GatewayHeartbeatEvery = time.Second

// gatewayIDPattern keeps the id one NATS subject token.
var gatewayIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// GatewayConfig is what a gateway runs with.
type GatewayConfig struct {
	NATSURL      string
	NATSOptions  []nats.Option // credentials and TLS (natsadapter.ClientAuth)
	ID           string
	Upstream     *url.URL
	Verifier     httpadapter.Verifier
	MaxStaleness time.Duration
	FailOpen     bool
	Logger       *slog.Logger
}

// Gateway is a running gateway without its listener: the view, its
// watcher, the heartbeat and the HTTP handler.
type Gateway struct {
	ID      string
	cfg     GatewayConfig
	checker *revocation.Checker
	handler *httpadapter.Gateway
	nc      *nats.Conn
	watcher *natsadapter.RevocationWatcher
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// StartGateway connects to NATS, loads the revocation view and starts the
// heartbeat; it returns once the view is loaded.
func StartGateway(ctx context.Context, cfg GatewayConfig) (*Gateway, error) {
	if !gatewayIDPattern.MatchString(cfg.ID) {
		return nil, fmt.Errorf("gateway id %q: want [A-Za-z0-9_-]{1,64}", cfg.ID)
	}
	if cfg.MaxStaleness <= 0 {
		cfg.MaxStaleness = revocation.DefaultMaxStaleness
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{ID: cfg.ID, cfg: cfg}
	g.checker = revocation.NewChecker(revocation.Config{MaxStaleness: cfg.MaxStaleness, FailOpen: cfg.FailOpen})
	var err error
	g.handler, err = httpadapter.NewGateway(httpadapter.GatewayConfig{
		Upstream: cfg.Upstream, Verifier: cfg.Verifier, Enforcer: g.checker, Status: g.checker,
		MaxStaleness: cfg.MaxStaleness, FailOpen: cfg.FailOpen, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	g.nc, err = natsadapter.Connect(cfg.NATSURL, "userlife-gateway-"+cfg.ID, log, cfg.NATSOptions...)
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(g.nc)
	if err != nil {
		g.nc.Close()
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	g.watcher, err = natsadapter.WatchRevocations(wctx, js, g.checker, log)
	if err != nil {
		g.nc.Close()
		return nil, fmt.Errorf("%w (has `userlife serve` provisioned this NATS server?)", err)
	}
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	g.cancel = hcancel
	g.wg.Go(func() { g.runHeartbeat(hctx, log) })
	return g, nil
}

// Handler is the gateway's HTTP handler.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Revision is the view's revision the gateway has applied.
func (g *Gateway) Revision() uint64 { return g.checker.Revision() }

// Heartbeat is what the gateway would report now.
func (g *Gateway) Heartbeat() gatewayBeat {
	stale := g.checker.Staleness()
	return gatewayBeat{
		ID: g.ID, Revision: g.checker.Revision(), StaleMS: stale.Milliseconds(), At: time.Now().UTC(),
		Ready: g.checker.Ready() && stale <= g.cfg.MaxStaleness,
	}
}

// runHeartbeat publishes Heartbeat every GatewayHeartbeatEvery and logs
// when the view turns stale or fresh again (once per change, not per
// request).
//
// It also reports as soon as the applied revision changes (checked every
// 2 ms), so `--wait-enforced` measures the propagation, not the heartbeat
// period.
func (g *Gateway) runHeartbeat(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(GatewayHeartbeatEvery)
	defer t.Stop()
	poll := time.NewTicker(2 * time.Millisecond)
	defer poll.Stop()
	wasReady := true
	for {
		hb := g.Heartbeat()
		if hb.Ready != wasReady {
			if hb.Ready {
				log.Info("gateway: revocation view fresh again", "revision", hb.Revision)
			} else {
				log.Warn("gateway: revocation view stale", "stale_ms", hb.StaleMS, "fail_open", g.cfg.FailOpen)
			}
			wasReady = hb.Ready
		}
		b, _ := json.Marshal(hb)
		_ = g.nc.Publish(GatewaySubjectPrefix+g.ID, b)
		reported := hb.Revision
	wait:
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				break wait
			case <-poll.C:
				if g.checker.Revision() != reported {
					break wait
				}
			}
		}
	}
}

// Close stops the heartbeat and the watcher and closes the connection.
func (g *Gateway) Close() {
	g.cancel()
	g.wg.Wait()
	g.watcher.Stop()
	g.nc.Close()
}

// newGatewayServer bounds what a slow or idle client can hold; the write
// side is left open so responses may stream for as long as the upstream
// sends (the upstream transport bounds the wait for its headers).
func newGatewayServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func defaultGatewayID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "gateway"
	}
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '-'
	}, host)
	return fmt.Sprintf("%.50s-%d", host, os.Getpid())
}

func gatewayCommand() *cli.Command {
	return &cli.Command{
		Name:  "gateway",
		Usage: "reverse proxy that verifies bearer JWTs and refuses revoked ones (401), failing closed (503) when the view is stale",
		Flags: append(natsFlags(),
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8081", Usage: "HTTP address to serve on", Sources: env("listen")},
			&cli.StringFlag{Name: "upstream", Usage: "URL allowed requests are proxied to", Required: true, Sources: env("upstream")},
			jwksFlag(),
			hs256SecretFileFlag(),
			&cli.DurationFlag{Name: "max-staleness", Value: revocation.DefaultMaxStaleness, Usage: "refuse every token (503) after this long without news from the service", Sources: env("max-staleness")},
			&cli.BoolFlag{Name: "fail-open", Usage: "let tokens through while the view is stale or not loaded (what the view knows still refuses)", Sources: env("fail-open")},
			&cli.StringFlag{Name: "id", Usage: "gateway id in heartbeats, [A-Za-z0-9_-] (default: hostname-pid)", Sources: env("id")},
		),
		Action: runGateway,
	}
}

func runGateway(ctx context.Context, cmd *cli.Command) error {
	log, err := newLogger(cmd)
	if err != nil {
		return err
	}
	upstream, err := url.Parse(cmd.String("upstream"))
	if err != nil || (upstream.Scheme != "http" && upstream.Scheme != "https") || upstream.Host == "" {
		return cli.Exit(fmt.Sprintf("--upstream %q: want an http:// or https:// URL", cmd.String("upstream")), exitError)
	}
	verifier, err := gatewayVerifier(ctx, cmd, log)
	if err != nil {
		return err
	}
	natsOpts, err := natsOptions(cmd)
	if err != nil {
		return err
	}
	id := cmd.String("id")
	if id == "" {
		id = defaultGatewayID()
	}
	gw, err := StartGateway(ctx, GatewayConfig{
		NATSURL: cmd.String("nats"), NATSOptions: natsOpts, ID: id, Upstream: upstream, Verifier: verifier,
		MaxStaleness: cmd.Duration("max-staleness"), FailOpen: cmd.Bool("fail-open"), Logger: log,
	})
	if err != nil {
		return cli.Exit(err.Error(), exitError)
	}
	defer gw.Close()
	ln, err := net.Listen("tcp", cmd.String("listen"))
	if err != nil {
		return cli.Exit(err.Error(), exitError)
	}
	srv := newGatewayServer(gw.Handler(), log)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "userlife gateway %s on http://%s proxying to %s; view at revision %d; heartbeat on %s%s; Ctrl-C to stop\n",
		gw.ID, ln.Addr(), upstream.Redacted(), gw.Revision(), GatewaySubjectPrefix, gw.ID)
	select {
	case err := <-served:
		return cli.Exit(fmt.Sprintf("serve: %v", err), exitError)
	case <-ctx.Done():
	}
	fmt.Fprintln(os.Stderr, "userlife gateway: shutting down; finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return cli.Exit(fmt.Sprintf("shutdown: %v", err), exitError)
	}
	fmt.Fprintln(os.Stderr, "userlife gateway: stopped")
	return nil
}

// The verifier flags, shared by gateway and serve.
func jwksFlag() cli.Flag {
	return &cli.StringFlag{Name: "jwks", Usage: "verify RS256/ES256/EdDSA tokens with the JWK Set at this URL", Sources: env("jwks")}
}

func hs256SecretFileFlag() cli.Flag {
	return &cli.StringFlag{Name: "hs256-secret-file", Usage: "verify HS256 tokens with the secret in this file", Sources: env("hs256-secret-file")}
}

// errOneVerifier is the message when not exactly one verifier flag is set.
const errOneVerifier = "give exactly one of --jwks URL and --hs256-secret-file FILE"

// gatewayVerifier builds the verifier from exactly one of --jwks and
// --hs256-secret-file.
func gatewayVerifier(ctx context.Context, cmd *cli.Command, log *slog.Logger) (httpadapter.Verifier, error) {
	if cmd.String("jwks") == "" && cmd.String("hs256-secret-file") == "" {
		return nil, cli.Exit(errOneVerifier, exitError)
	}
	return flagVerifier(ctx, cmd, log)
}

// flagVerifier builds the verifier of --jwks or --hs256-secret-file; nil
// when neither is set, an error when both are. A JWKS is refetched until
// ctx ends.
func flagVerifier(ctx context.Context, cmd *cli.Command, log *slog.Logger) (httpadapter.Verifier, error) {
	jwks, secretFile := cmd.String("jwks"), cmd.String("hs256-secret-file")
	switch {
	case jwks == "" && secretFile == "":
		return nil, nil
	case jwks != "" && secretFile != "":
		return nil, cli.Exit(errOneVerifier, exitError)
	case jwks != "":
		v, err := httpadapter.NewJWKSVerifier(ctx, jwks, httpadapter.VerifierConfig{Logger: log})
		if err != nil {
			return nil, cli.Exit(err.Error(), exitError)
		}
		return v, nil
	}
	secret, err := readSecretFile(secretFile)
	if err != nil {
		return nil, cli.Exit(err.Error(), exitError)
	}
	v, err := httpadapter.NewHS256Verifier(secret, httpadapter.VerifierConfig{})
	if err != nil {
		return nil, cli.Exit(err.Error(), exitError)
	}
	return v, nil
}
