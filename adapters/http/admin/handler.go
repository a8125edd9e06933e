package admin

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// access says who may call a route.
type access int

const (
	public access = iota // anyone (sign-in, the OpenAPI document)
	reader               // any valid principal
	writer               // admin role; CSRF header when signed in by cookie
)

// Route is one method and path the API serves, in net/http pattern
// syntax ({id} is a path parameter, as in OpenAPI).
type Route struct {
	Method string
	Path   string
}

type route struct {
	Route
	access access
	serve  func(h *Handler, w http.ResponseWriter, r *http.Request, p Principal)
}

// routes is the API: the mux, Routes and the OpenAPI document's test all
// read it.
var routes = []route{
	{Route{"GET", "/v1/openapi.json"}, public, (*Handler).openAPI},
	{Route{"POST", "/v1/session"}, public, (*Handler).signIn},
	{Route{"GET", "/v1/session"}, reader, (*Handler).currentSession},
	{Route{"DELETE", "/v1/session"}, reader, (*Handler).signOut},
	{Route{"GET", "/v1/users"}, reader, (*Handler).listUsers},
	{Route{"POST", "/v1/users"}, writer, (*Handler).register},
	{Route{"GET", "/v1/users/{id}"}, reader, (*Handler).getUser},
	{Route{"DELETE", "/v1/users/{id}"}, writer, (*Handler).deleteByDELETE},
	{Route{"GET", "/v1/users/{id}/history"}, reader, (*Handler).history},
	{Route{"POST", "/v1/users/{id}/confirm"}, writer, (*Handler).confirm},
	{Route{"POST", "/v1/users/{id}/disable"}, writer, (*Handler).disable},
	{Route{"POST", "/v1/users/{id}/enable"}, writer, (*Handler).enable},
	{Route{"POST", "/v1/users/{id}/delete"}, writer, (*Handler).delete},
	{Route{"POST", "/v1/users/{id}/revoke-sessions"}, writer, (*Handler).revokeSessions},
	{Route{"GET", "/v1/commands/{command_id}"}, reader, (*Handler).commandOutcome},
	{Route{"GET", "/v1/audit"}, reader, (*Handler).audit},
}

// Routes lists the /v1 routes the API serves.
func Routes() []Route {
	out := make([]Route, len(routes))
	for i, rt := range routes {
		out[i] = rt.Route
	}
	return out
}

// Handler serves the admin API under /v1, /readyz, /metrics and the
// console at "/".
type Handler struct {
	cfg      Config
	tokens   *tokenSet
	sessions *sessions
	failures *failures
	mux      *http.ServeMux
}

var _ http.Handler = (*Handler)(nil)

// New builds the API from cfg.
func New(cfg Config) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	h := &Handler{cfg: cfg, tokens: newTokenSet(cfg.Tokens), sessions: newSessions(cfg.SessionTTL, cfg.Now),
		failures: newFailures(cfg.Now)}
	h.mux = http.NewServeMux()
	for _, rt := range routes {
		h.mux.Handle(rt.Method+" "+rt.Path, h.guard(rt))
	}
	h.mux.HandleFunc("/v1/", h.unrouted)
	h.mux.HandleFunc("GET /readyz", h.readyz)
	if cfg.Metrics != nil {
		h.mux.Handle("GET /metrics", cfg.Metrics)
	}
	if cfg.Console != nil {
		h.mux.Handle("/", cfg.Console)
	} else {
		h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			fail(w, CodeNotFound, "no such resource: "+r.URL.Path+" (the API is under /v1, described by /v1/openapi.json)")
		})
	}
	return h, nil
}

// HasTokens says whether any admin token is configured.
func (h *Handler) HasTokens() bool { return !h.tokens.empty() }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if strings.HasPrefix(r.URL.Path, "/v1/") {
		w.Header().Set("Cache-Control", "no-store")
	}
	h.mux.ServeHTTP(w, r)
}

// unrouted answers /v1 requests no route matched: 405 when the path
// exists with another method, else 404.
func (h *Handler) unrouted(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{"GET", "POST", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != "/v1/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		fail(w, CodeMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+strings.Join(allow, ", "))
		return
	}
	fail(w, CodeNotFound, "no such resource: "+r.URL.Path+" (see /v1/openapi.json)")
}

// readyz answers 200 when Ready says so (or there is no Ready), else 503.
func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if h.cfg.Ready == nil {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := h.cfg.Ready(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not_ready", "detail": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
