package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	httpadapter "github.com/userlife/userlife/adapters/http"
	"github.com/userlife/userlife/adapters/http/admin"
	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/projections/revocation"
)

// DefaultHTTPListen is `serve --http`'s default. ServeConfig's zero value
// means no HTTP listener, so in-process tests never fight over the port.
const DefaultHTTPListen = "127.0.0.1:8080"

// introspectionOff is the answer of /v1/introspect when it is not enabled.
const introspectionOff = "introspection is off: start serve with --introspection-tokens-file and one of --hs256-secret-file or --jwks"

// minCallerToken is the shortest caller token accepted: a guessable one
// would let anyone probe tokens.
const minCallerToken = 16

// httpSide is serve's HTTP listener: /healthz, /readyz, /metrics and, when
// enabled, token introspection fed by its own revocation watcher.
type httpSide struct {
	ln      net.Listener
	srv     *http.Server
	served  chan error
	nc      *nats.Conn
	watcher *natsadapter.RevocationWatcher
	// metrics and ready serve GET /metrics and GET /readyz.
	metrics, ready http.Handler
}

// listenHTTP takes the address first, so a taken port fails serve before
// it starts anything else.
func listenHTTP(addr string) (*httpSide, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("HTTP cannot listen on %s: address already in use (another program is using it; "+
			"choose another address with --http, or run without HTTP with --http \"\")", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("HTTP cannot listen on %s (choose another address with --http): %w", addr, err)
	}
	return &httpSide{ln: ln, served: make(chan error, 1)}, nil
}

// introspectionEnabled says whether cfg turns /v1/introspect on.
func (cfg ServeConfig) introspectionEnabled() bool {
	return cfg.Verifier != nil && len(cfg.IntrospectionTokens) > 0
}

// start loads the revocation view (when introspection is on) and serves
// /healthz, introspection and api.
func (h *httpSide) start(ctx context.Context, cfg ServeConfig, natsURL string, api http.Handler, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("/", api) // the admin API under /v1, /readyz, /metrics and the console
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n"))
	})
	if h.metrics != nil {
		mux.Handle("GET /metrics", h.metrics)
	}
	if h.ready != nil {
		mux.Handle("GET /readyz", h.ready)
	}
	if cfg.introspectionEnabled() {
		checker := revocation.NewChecker(revocation.Config{}) // fail closed: a stale view answers 503
		in, err := httpadapter.NewIntrospector(httpadapter.IntrospectorConfig{
			Verifier: cfg.Verifier, Enforcer: checker, CallerTokens: cfg.IntrospectionTokens, Logger: log,
		})
		if err != nil {
			return err
		}
		if h.nc, err = natsadapter.Connect(natsURL, "userlife-serve-introspection", log, cfg.NATSOptions...); err != nil {
			return err
		}
		js, err := jetstream.New(h.nc)
		if err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if h.watcher, err = natsadapter.WatchRevocations(wctx, js, checker, log); err != nil {
			return fmt.Errorf("introspection: %w", err)
		}
		mux.Handle(httpadapter.IntrospectPath, in)
	} else {
		mux.HandleFunc(httpadapter.IntrospectPath, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNotFound)
			_, _ = fmt.Fprintf(w, "{\"error\":\"not_found\",\"error_description\":%q}\n", introspectionOff)
		})
	}
	h.srv = &http.Server{
		Handler:           admin.SecurityHeaders(mux),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { h.served <- h.srv.Serve(h.ln) }()
	return nil
}

// close finishes the requests in flight (up to 10 s), then stops the
// watcher and its connection.
func (h *httpSide) close() error {
	var err error
	if h.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if e := h.srv.Shutdown(ctx); e != nil && !errors.Is(e, http.ErrServerClosed) {
			err = fmt.Errorf("HTTP shutdown: %w", e)
		}
	} else {
		_ = h.ln.Close()
	}
	if h.watcher != nil {
		h.watcher.Stop()
	}
	if h.nc != nil {
		h.nc.Close()
	}
	return err
}

// readCallerTokens reads --introspection-tokens-file: one token per line;
// blank lines and lines starting with # are skipped.
func readCallerTokens(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("introspection tokens: %w", err)
	}
	var tokens []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		t := strings.TrimSpace(sc.Text())
		switch {
		case t == "" || strings.HasPrefix(t, "#"):
			continue
		case strings.ContainsAny(t, " \t"):
			return nil, fmt.Errorf("introspection tokens in %s, line %d: a token cannot contain spaces", path, n)
		case len(t) < minCallerToken:
			return nil, fmt.Errorf("introspection tokens in %s, line %d: %d characters, want at least %d (e.g. `head -c 32 /dev/urandom | base64 >> %s`)",
				path, n, len(t), minCallerToken, path)
		}
		tokens = append(tokens, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("introspection tokens in %s: %w", path, err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("introspection tokens: no token in %s", path)
	}
	return tokens, nil
}
