package http_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	httpadapter "github.com/userlife/userlife/adapters/http"
	"github.com/userlife/userlife/projections/revocation"
)

// fakeEnforcer answers one Reason and records what it was asked; fakeStatus
// is a view of a given readiness and age.
type fakeEnforcer struct {
	reason revocation.Reason
	mu     sync.Mutex
	asked  []string
}

func (f *fakeEnforcer) Check(sub, sid string, iat int64) revocation.Reason {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, sub+"/"+sid+"/"+time.Unix(iat, 0).UTC().Format(time.RFC3339))
	return f.reason
}

type fakeStatus struct {
	ready bool
	stale time.Duration
}

func (s fakeStatus) Ready() bool              { return s.ready }
func (s fakeStatus) Revision() uint64         { return 42 }
func (s fakeStatus) Staleness() time.Duration { return s.stale }

// upstreamSeen is what the upstream echoes back: the request it got.
type upstreamSeen struct {
	Path          string `json:"path"`
	Query         string `json:"query"`
	Authorization string `json:"authorization"`
	Subject       string `json:"subject"`
	Session       string `json:"session"`
	ForwardedFor  string `json:"forwarded_for"`
}

// upstream is a real HTTP server under /base that echoes each request.
func upstream(t *testing.T) (*url.URL, *int) {
	t.Helper()
	var mu sync.Mutex
	hits := new(int)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		*hits++
		mu.Unlock()
		_ = json.NewEncoder(w).Encode(upstreamSeen{
			Path: r.URL.Path, Query: r.URL.RawQuery, Authorization: r.Header.Get("Authorization"),
			Subject: r.Header.Get(httpadapter.SubjectHeader), Session: r.Header.Get(httpadapter.SessionHeader),
			ForwardedFor: r.Header.Get("X-Forwarded-For"),
		})
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL + "/base")
	if err != nil {
		t.Fatal(err)
	}
	return u, hits
}

type gatewayOpts struct {
	enforcer httpadapter.Enforcer
	status   httpadapter.Status
	failOpen bool
	upstream *url.URL
}

func newGateway(t *testing.T, o gatewayOpts) *httptest.Server {
	t.Helper()
	if o.status == nil {
		o.status = fakeStatus{ready: true}
	}
	g, err := httpadapter.NewGateway(httpadapter.GatewayConfig{
		Upstream: o.upstream, Verifier: hsVerifier(t), Enforcer: o.enforcer, Status: o.status,
		MaxStaleness: 10 * time.Second, FailOpen: o.failOpen,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	code int
	hdr  http.Header
	body []byte
}

func do(t *testing.T, method, url string, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: res.StatusCode, hdr: res.Header, body: b}
}

func bearerHdr(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

func TestGatewayResponses(t *testing.T) {
	t.Parallel()
	const (
		realmOnly = `Bearer realm="userlife"`
		invalid   = `Bearer realm="userlife", error="invalid_token", error_description="`
	)
	valid := hs256(t, claims())
	tests := []struct {
		name     string
		hdr      map[string]string
		reason   revocation.Reason
		wantCode int
		wantAuth string // WWW-Authenticate, "" for none
		wantErr  string // body "error"
		wantDesc string // body "error_description"
		asked    bool   // the enforcer was asked
	}{
		{"no Authorization", nil, revocation.Allowed, 401, realmOnly, "unauthorized", "bearer token required", false},
		{"Basic credentials", map[string]string{"Authorization": "Basic YW5uOnB3"}, revocation.Allowed, 401, realmOnly, "unauthorized", "bearer token required", false},
		{"Bearer without a token", map[string]string{"Authorization": "Bearer "}, revocation.Allowed, 401, invalid + `malformed Authorization header"`, "invalid_token", "malformed Authorization header", false},
		{"alg none", bearerHdr(none(t, claims())), revocation.Allowed, 401, invalid + `signing algorithm not accepted"`, "invalid_token", "signing algorithm not accepted", false},
		{"bad signature", bearerHdr(valid[:len(valid)-4] + "AAAA"), revocation.Allowed, 401, invalid + `invalid signature"`, "invalid_token", "invalid signature", false},
		{"expired", bearerHdr(hs256(t, mutate(func(c *httpadapter.Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour)) }))), revocation.Allowed, 401, invalid + `token expired"`, "invalid_token", "token expired", false},
		{"iat in the future", bearerHdr(hs256(t, mutate(func(c *httpadapter.Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour)) }))), revocation.Allowed, 401, invalid + `token issued in the future"`, "invalid_token", "token issued in the future", false},
		{"no sub", bearerHdr(hs256(t, mutate(func(c *httpadapter.Claims) { c.Subject = "" }))), revocation.Allowed, 401, invalid + `token has no sub claim"`, "invalid_token", "token has no sub claim", false},
		{"user disabled", bearerHdr(valid), revocation.ReasonDisabled, 401, invalid + `user disabled"`, "invalid_token", "user disabled", true},
		{"user deleted", bearerHdr(valid), revocation.ReasonDeleted, 401, invalid + `user deleted"`, "invalid_token", "user deleted", true},
		{"token revoked", bearerHdr(valid), revocation.ReasonRevoked, 401, invalid + `token revoked"`, "invalid_token", "token revoked", true},
		{"session revoked", bearerHdr(valid), revocation.ReasonSessionRevoked, 401, invalid + `session revoked"`, "invalid_token", "session revoked", true},
		{"view stale", bearerHdr(valid), revocation.ReasonStale, 503, "", "temporarily_unavailable", "revocation view stale", true},
		{"view not ready", bearerHdr(valid), revocation.ReasonNotReady, 503, "", "temporarily_unavailable", "revocation view not ready", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up, hits := upstream(t)
			enf := &fakeEnforcer{reason: tt.reason}
			gw := newGateway(t, gatewayOpts{enforcer: enf, upstream: up})
			res := do(t, "GET", gw.URL+"/api", tt.hdr)
			if res.code != tt.wantCode {
				t.Fatalf("status %d, want %d; body %s", res.code, tt.wantCode, res.body)
			}
			if got := res.hdr.Get("WWW-Authenticate"); got != tt.wantAuth {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.wantAuth)
			}
			if got := res.hdr.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q, want application/json", got)
			}
			wantRetry := ""
			if tt.wantCode == 503 {
				wantRetry = "1"
			}
			if got := res.hdr.Get("Retry-After"); got != wantRetry {
				t.Errorf("Retry-After %q, want %q", got, wantRetry)
			}
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if err := json.Unmarshal(res.body, &body); err != nil {
				t.Fatalf("body %s: %v", res.body, err)
			}
			if body.Error != tt.wantErr || body.Description != tt.wantDesc {
				t.Errorf("body %+v, want error %q, description %q", body, tt.wantErr, tt.wantDesc)
			}
			if *hits != 0 {
				t.Errorf("upstream hit %d times, want none", *hits)
			}
			if got := len(enf.asked) > 0; got != tt.asked {
				t.Errorf("enforcer asked: %v, want %v", got, tt.asked)
			}
		})
	}
}

func TestGatewayProxies(t *testing.T) {
	t.Parallel()
	up, hits := upstream(t)
	enf := &fakeEnforcer{reason: revocation.Allowed}
	gw := newGateway(t, gatewayOpts{enforcer: enf, upstream: up})
	tok := hs256(t, claims())
	// A client cannot choose its own subject or session.
	res := do(t, "GET", gw.URL+"/api/things?q=1", map[string]string{
		"Authorization": "bearer " + tok, httpadapter.SubjectHeader: "mallory", httpadapter.SessionHeader: "s-9",
	})
	if res.code != 200 {
		t.Fatalf("status %d, want 200; body %s", res.code, res.body)
	}
	var got upstreamSeen
	if err := json.Unmarshal(res.body, &got); err != nil {
		t.Fatal(err)
	}
	want := upstreamSeen{Path: "/base/api/things", Query: "q=1", Authorization: "bearer " + tok, Subject: "ann", Session: "s-1", ForwardedFor: "127.0.0.1"}
	if got != want {
		t.Errorf("upstream saw %+v, want %+v", got, want)
	}
	if *hits != 1 {
		t.Errorf("upstream hit %d times, want 1", *hits)
	}
	wantAsked := "ann/s-1/" + now.Add(-time.Minute).Format(time.RFC3339)
	if len(enf.asked) != 1 || enf.asked[0] != wantAsked {
		t.Errorf("enforcer asked %v, want [%s]", enf.asked, wantAsked)
	}

	// Without a sid, a client-sent session header does not get through.
	res = do(t, "GET", gw.URL+"/", map[string]string{
		"Authorization": "Bearer " + hs256(t, mutate(func(c *httpadapter.Claims) { c.SessionID = "" })), httpadapter.SessionHeader: "s-9",
	})
	got = upstreamSeen{}
	if err := json.Unmarshal(res.body, &got); err != nil {
		t.Fatal(err)
	}
	if res.code != 200 || got.Session != "" {
		t.Errorf("status %d, session %q; want 200 and no session header", res.code, got.Session)
	}
}

// With a real Checker that has never loaded the view: fail closed by
// default, proxied with FailOpen.
func TestGatewayFailOpen(t *testing.T) {
	t.Parallel()
	for _, failOpen := range []bool{false, true} {
		up, hits := upstream(t)
		c := revocation.NewChecker(revocation.Config{FailOpen: failOpen})
		gw := newGateway(t, gatewayOpts{enforcer: c, status: c, failOpen: failOpen, upstream: up})
		res := do(t, "GET", gw.URL+"/x", bearerHdr(hs256(t, claims())))
		want, wantHits := 503, 0
		if failOpen {
			want, wantHits = 200, 1
		}
		if res.code != want || *hits != wantHits {
			t.Errorf("fail-open %v: status %d, upstream hits %d; want %d, %d", failOpen, res.code, *hits, want, wantHits)
		}
	}
}

// What the view knows still refuses when failing open.
func TestGatewayFailOpenStillRefusesKnown(t *testing.T) {
	t.Parallel()
	up, _ := upstream(t)
	c := revocation.NewChecker(revocation.Config{FailOpen: true, MaxStaleness: time.Nanosecond})
	c.Load([]revocation.Entry{{UserID: "ann", State: revocation.StateDisabled, Revision: 3}}, 3)
	time.Sleep(time.Millisecond) // let the view turn stale
	gw := newGateway(t, gatewayOpts{enforcer: c, status: c, failOpen: true, upstream: up})
	res := do(t, "GET", gw.URL+"/x", bearerHdr(hs256(t, claims())))
	if res.code != 401 || !strings.Contains(res.hdr.Get("WWW-Authenticate"), `error_description="user disabled"`) {
		t.Errorf("status %d, WWW-Authenticate %q; want 401 user disabled", res.code, res.hdr.Get("WWW-Authenticate"))
	}
}

func TestGatewayHealth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   fakeStatus
		failOpen bool
		method   string
		want     int
		ready    bool
	}{
		{"ready", fakeStatus{ready: true, stale: time.Second}, false, "GET", 200, true},
		{"HEAD", fakeStatus{ready: true}, false, "HEAD", 200, true},
		{"not loaded", fakeStatus{}, false, "GET", 503, false},
		{"stale", fakeStatus{ready: true, stale: time.Minute}, false, "GET", 503, false},
		{"stale, fail-open", fakeStatus{ready: true, stale: time.Minute}, true, "GET", 200, false},
		{"POST", fakeStatus{ready: true}, false, "POST", 405, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up, hits := upstream(t)
			gw := newGateway(t, gatewayOpts{enforcer: &fakeEnforcer{}, status: tt.status, failOpen: tt.failOpen, upstream: up})
			res := do(t, tt.method, gw.URL+httpadapter.HealthPath, nil) // no token needed
			if res.code != tt.want {
				t.Fatalf("status %d, want %d; body %s", res.code, tt.want, res.body)
			}
			if *hits != 0 {
				t.Error("the health endpoint was proxied")
			}
			if tt.method != "GET" || tt.want == 405 {
				return
			}
			var body struct {
				Ready    bool   `json:"ready"`
				Revision uint64 `json:"revision"`
				StaleMS  int64  `json:"stale_ms"`
			}
			if err := json.Unmarshal(res.body, &body); err != nil {
				t.Fatal(err)
			}
			if body.Ready != tt.ready || body.Revision != 42 || body.StaleMS != tt.status.stale.Milliseconds() {
				t.Errorf("body %+v, want ready %v, revision 42, stale_ms %d", body, tt.ready, tt.status.stale.Milliseconds())
			}
		})
	}
}

func TestGatewayUpstreamDown(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	u, _ := url.Parse(dead.URL)
	dead.Close()
	gw := newGateway(t, gatewayOpts{enforcer: &fakeEnforcer{}, upstream: u})
	if res := do(t, "GET", gw.URL+"/", bearerHdr(hs256(t, claims()))); res.code != 502 {
		t.Errorf("status %d, want 502", res.code)
	}
}

func TestGatewayConfigValidate(t *testing.T) {
	t.Parallel()
	_, err := httpadapter.NewGateway(httpadapter.GatewayConfig{Upstream: &url.URL{Path: "/relative"}})
	if err == nil {
		t.Fatal("an empty config was accepted")
	}
	for _, want := range []string{"Upstream", "Verifier", "Enforcer", "Status"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
