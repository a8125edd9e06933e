package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/userlife/userlife/adapters/http/admin"
	"github.com/userlife/userlife/adapters/postgres/pgtest"
	"github.com/userlife/userlife/events"
)

const (
	adminToken  = "alice-admin-token-0123456789"
	viewerToken = "victor-viewer-token-0123456789"
)

// apiTokens are the tokens of the admin API tests.
var apiTokens = []admin.Token{
	{Secret: adminToken, Actor: "alice", Role: admin.RoleAdmin},
	{Secret: viewerToken, Actor: "victor", Role: admin.RoleViewer},
}

// api is an in-process `userlife serve` with its HTTP listener.
type api struct {
	t    *testing.T
	base string
	app  *App
}

type apiOption func(*ServeConfig)

func withPostgres(t *testing.T) apiOption {
	return func(c *ServeConfig) { c.PostgresURL = pgtest.DSN(t) }
}

func withTokens(tokens []admin.Token) apiOption {
	return func(c *ServeConfig) { c.AdminTokens = tokens }
}

// startAPI starts the service with the admin tokens above (in-memory
// projections unless withPostgres).
func startAPI(t *testing.T, opts ...apiOption) *api {
	t.Helper()
	cfg := ServeConfig{DataDir: t.TempDir(), NATSListen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler), AdminTokens: apiTokens}
	for _, o := range opts {
		o(&cfg)
	}
	app, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	return &api{t: t, base: "http://" + app.HTTPAddr, app: app}
}

// reply is an HTTP answer, read in full.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
	res    *http.Response
}

func (r reply) problem(t *testing.T) admin.Problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json; body %s", ct, r.Body)
	}
	var p admin.Problem
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("problem: %v; body %s", err, r.Body)
	}
	if p.Status != r.Status || p.Type != admin.ProblemTypePrefix+p.Code || p.Title == "" {
		t.Fatalf("problem %+v does not match status %d", p, r.Status)
	}
	return p
}

// wantProblem checks the status and the code.
func (r reply) wantProblem(t *testing.T, status int, code string) admin.Problem {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	p := r.problem(t)
	if p.Code != code {
		t.Fatalf("code %q, want %q; detail %q", p.Code, code, p.Detail)
	}
	return p
}

func (r reply) decode(t *testing.T, status int, v any) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// req is one request; Body is JSON-encoded unless it is a string or []byte.
type req struct {
	Method, Path string
	Token        string // bearer token; "" for none
	Body         any
	ContentType  string // default application/json when there is a body
	Header       map[string]string
	Cookie       *http.Cookie
}

func (a *api) do(r req) reply {
	a.t.Helper()
	var body io.Reader
	switch b := r.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	case io.Reader:
		body = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	hr, err := http.NewRequestWithContext(a.t.Context(), r.Method, a.base+r.Path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		ct := r.ContentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	if r.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.Token)
	}
	for k, v := range r.Header {
		hr.Header.Set(k, v)
	}
	if r.Cookie != nil {
		hr.AddCookie(r.Cookie)
	}
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return reply{Status: res.StatusCode, Header: res.Header, Body: b, res: res}
}

// outcome sends a mutation as alice and returns its 200 outcome.
func (a *api) outcome(method, path string, body any) events.Outcome {
	a.t.Helper()
	var o events.Outcome
	a.do(req{Method: method, Path: path, Token: adminToken, Body: body}).decode(a.t, http.StatusOK, &o)
	return o
}

// confirmed registers and confirms a user.
func (a *api) confirmed(id, email string) {
	a.t.Helper()
	a.outcome("POST", "/v1/users", map[string]string{"email": email, "user_id": id})
	a.outcome("POST", "/v1/users/"+id+"/confirm", nil)
}

// historyOf returns a user's events.
func (a *api) historyOf(id string) []eventRow {
	a.t.Helper()
	var h struct {
		Events []eventRow `json:"events"`
	}
	a.do(req{Method: "GET", Path: "/v1/users/" + id + "/history", Token: adminToken}).decode(a.t, http.StatusOK, &h)
	return h.Events
}

type eventRow struct {
	Seq       uint64          `json:"seq"`
	Type      string          `json:"type"`
	Actor     string          `json:"actor"`
	Reason    string          `json:"reason"`
	CommandID string          `json:"command_id"`
	Data      json.RawMessage `json:"data"`
}

// state returns a user's state through GET /v1/users/{id}.
func (a *api) state(id string) string {
	a.t.Helper()
	var d admin.UserDetail
	a.do(req{Method: "GET", Path: "/v1/users/" + id, Token: viewerToken}).decode(a.t, http.StatusOK, &d)
	return d.User.State
}
