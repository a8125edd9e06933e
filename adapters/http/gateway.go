package http

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/userlife/userlife/projections/revocation"
)

// Paths and headers of the gateway.
const (
	// HealthPath is answered by the gateway itself, never proxied.
	HealthPath = "/_userlife/healthz"
	// SubjectHeader carries the verified sub claim upstream; a value the
	// client sent is replaced.
	SubjectHeader = "X-Userlife-Subject"
	// SessionHeader carries the verified sid claim upstream, or is removed.
	SessionHeader = "X-Userlife-Session"
	// Realm names the protection space in WWW-Authenticate.
	Realm = "userlife"
)

// Enforcer decides whether a verified token may pass: revocation.Checker.
type Enforcer interface {
	Check(sub, sid string, iat int64) revocation.Reason
}

// Status is what the health endpoint reports: revocation.Checker.
type Status interface {
	Ready() bool
	Revision() uint64
	Staleness() time.Duration
}

var (
	_ Enforcer = (*revocation.Checker)(nil)
	_ Status   = (*revocation.Checker)(nil)
)

// GatewayConfig is what a Gateway needs.
type GatewayConfig struct {
	Upstream *url.URL // where allowed requests go
	Verifier Verifier
	Enforcer Enforcer
	Status   Status
	// MaxStaleness and FailOpen should be the Checker's: the health
	// endpoint answers 200 when the view is loaded and fresher than
	// MaxStaleness (zero: revocation.DefaultMaxStaleness), or always when
	// FailOpen, since then the gateway lets tokens through anyway.
	MaxStaleness time.Duration
	FailOpen     bool
	// Transport reaches the upstream; nil means a clone of
	// http.DefaultTransport with a response header timeout and 64 idle
	// connections per host.
	Transport http.RoundTripper
	Logger    *slog.Logger
}

// Validate reports every missing field at once.
func (c GatewayConfig) Validate() error {
	var errs []error
	if c.Upstream == nil || c.Upstream.Scheme == "" || c.Upstream.Host == "" {
		errs = append(errs, errors.New("gateway: Upstream must be an absolute URL"))
	}
	if c.Verifier == nil {
		errs = append(errs, errors.New("gateway: Verifier is required"))
	}
	if c.Enforcer == nil {
		errs = append(errs, errors.New("gateway: Enforcer is required"))
	}
	if c.Status == nil {
		errs = append(errs, errors.New("gateway: Status is required"))
	}
	return errors.Join(errs...)
}

// UpstreamResponseHeaderTimeout bounds the wait for an upstream's response
// headers with the default transport; bodies may stream for longer.
const UpstreamResponseHeaderTimeout = time.Minute

// Gateway is the reverse proxy: it verifies the bearer token, asks the
// Enforcer, and proxies what passes with the Authorization header
// unchanged and the subject in SubjectHeader.
type Gateway struct {
	cfg   GatewayConfig
	log   *slog.Logger
	proxy *httputil.ReverseProxy
}

var _ http.Handler = (*Gateway)(nil)

// NewGateway returns a Gateway for cfg.
func NewGateway(cfg GatewayConfig) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxStaleness <= 0 {
		cfg.MaxStaleness = revocation.DefaultMaxStaleness
	}
	if cfg.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// The default keeps 2 idle connections per host: with 32 clients
		// the gateway opened a new upstream connection for about every
		// second request (BenchmarkGatewayOverhead).
		t.MaxIdleConnsPerHost = 64
		t.ResponseHeaderTimeout = UpstreamResponseHeaderTimeout
		cfg.Transport = t
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{cfg: cfg, log: log}
	g.proxy = &httputil.ReverseProxy{
		Rewrite:   g.rewrite,
		Transport: cfg.Transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() == nil {
				log.Warn("gateway: upstream failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeJSON(w, http.StatusBadGateway, errorBody{Error: "bad_gateway", Description: "upstream unavailable"})
		},
	}
	return g, nil
}

type tokenKey struct{}

func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(g.cfg.Upstream)
	pr.SetXForwarded()
	tok, _ := pr.In.Context().Value(tokenKey{}).(Token)
	pr.Out.Header.Set(SubjectHeader, tok.Subject)
	if tok.SessionID != "" {
		pr.Out.Header.Set(SessionHeader, tok.SessionID)
	} else {
		pr.Out.Header.Del(SessionHeader)
	}
}

// ServeHTTP answers the health endpoint, refuses what it must and proxies
// the rest.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == HealthPath {
		g.health(w, r)
		return
	}
	raw, status := bearer(r.Header.Values("Authorization"))
	switch status {
	case noToken:
		// RFC 6750 §3.1: no error attribute when the request carried no
		// bearer credentials at all.
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+Realm+`"`)
		writeJSON(w, http.StatusUnauthorized, errorBody{Error: "unauthorized", Description: "bearer token required"})
		return
	case malformed:
		refuse(w, "malformed Authorization header")
		return
	}
	tok, err := g.cfg.Verifier.Verify(r.Context(), raw)
	if err != nil {
		desc := "invalid token"
		if ite, ok := errors.AsType[*InvalidTokenError](err); ok {
			desc = ite.Description
		}
		g.log.Debug("gateway: token refused", "reason", desc, "err", err)
		refuse(w, desc)
		return
	}
	switch reason := g.cfg.Enforcer.Check(tok.Subject, tok.SessionID, tok.IssuedAt); reason {
	case revocation.Allowed:
		g.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, tok)))
	case revocation.ReasonStale, revocation.ReasonNotReady:
		g.log.Debug("gateway: failing closed", "user_id", tok.Subject, "reason", reason.String())
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "temporarily_unavailable", Description: reason.String()})
	default:
		g.log.Debug("gateway: token refused", "user_id", tok.Subject, "reason", reason.String())
		refuse(w, reason.String())
	}
}

// refuse answers 401 invalid_token with desc (RFC 6750 §3.1).
func refuse(w http.ResponseWriter, desc string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+Realm+`", error="invalid_token", error_description="`+quotable(desc)+`"`)
	writeJSON(w, http.StatusUnauthorized, errorBody{Error: "invalid_token", Description: desc})
}

// healthBody is the health endpoint's answer.
type healthBody struct {
	Ready    bool   `json:"ready"`
	Revision uint64 `json:"revision"`
	StaleMS  int64  `json:"stale_ms"`
	FailOpen bool   `json:"fail_open,omitempty"`
}

func (g *Gateway) health(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "method_not_allowed"})
		return
	}
	st := g.cfg.Status
	stale := st.Staleness()
	ready := st.Ready() && stale <= g.cfg.MaxStaleness
	code := http.StatusOK
	if !ready && !g.cfg.FailOpen {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, healthBody{Ready: ready, Revision: st.Revision(), StaleMS: stale.Milliseconds(), FailOpen: g.cfg.FailOpen})
}

type authStatus int

const (
	hasToken authStatus = iota
	noToken             // no Authorization header, or another scheme
	malformed
)

// bearer extracts the token of an "Authorization: Bearer <token>" header.
// The scheme is case-insensitive (RFC 9110 §11.1).
func bearer(values []string) (string, authStatus) {
	if len(values) == 0 {
		return "", noToken
	}
	if len(values) > 1 {
		return "", malformed
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", noToken
	}
	token = strings.TrimSpace(token)
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", malformed
	}
	return token, hasToken
}

// quotable keeps the characters RFC 6750 §3 allows in error_description
// (printable ASCII but '"' and '\').
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, s)
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
