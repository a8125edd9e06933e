package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/urfave/cli/v3"

	httpadapter "github.com/userlife/userlife/adapters/http"
	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections/revocation"
)

// gatewayFixture is the service and a gateway in front of a real upstream,
// all in-process, with tokens minted for the gateway's HS256 secret.
type gatewayFixture struct {
	client *natsadapter.Client
	gw     *Gateway
	url    string // the gateway's
	secret []byte
	app    *App
}

func startGatewayFixture(t *testing.T) *gatewayFixture {
	t.Helper()
	ctx := t.Context()
	app, err := Start(ctx, ServeConfig{DataDir: t.TempDir(), NATSListen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	_, js := natstest.Connect(t, app.NATSURL)
	client, err := natsadapter.NewClient(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("gateway-test-secret-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secret, err := readSecretFile(secretFile)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := httpadapter.NewHS256Verifier(secret, httpadapter.VerifierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.Header.Get(httpadapter.SubjectHeader))
	}))
	t.Cleanup(up.Close)
	upURL, _ := url.Parse(up.URL)
	gw, err := StartGateway(ctx, GatewayConfig{NATSURL: app.NATSURL, ID: "gw-test", Upstream: upURL, Verifier: verifier})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(srv.Close)
	return &gatewayFixture{client: client, gw: gw, url: srv.URL, secret: secret, app: app}
}

func (f *gatewayFixture) do(t *testing.T, c events.Command) events.Outcome {
	t.Helper()
	out, err := f.client.Do(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != events.StatusAccepted {
		t.Fatalf("%s: %+v", c.CommandName(), out)
	}
	return out
}

func (f *gatewayFixture) confirmedUser(t *testing.T, id string) {
	t.Helper()
	m := events.CommandMeta{UserID: id, Actor: "test"}
	f.do(t, &events.RegisterUser{CommandMeta: m, Email: id + "@example.com"})
	f.do(t, &events.ConfirmUser{CommandMeta: m})
}

func (f *gatewayFixture) mint(t *testing.T, user, sid string, iat time.Time) string {
	t.Helper()
	tok, err := mintToken(f.secret, user, sid, iat, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// get sends a request with token and returns the status and what the
// gateway or the upstream said (the error_description for a 401).
func (f *gatewayFixture) get(t *testing.T, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", f.url+"/", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusUnauthorized {
		var body struct {
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(b, &body)
		if !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("401 with WWW-Authenticate %q", res.Header.Get("WWW-Authenticate"))
		}
		return res.StatusCode, body.Description
	}
	return res.StatusCode, string(b)
}

// eventually polls until the token gets want, failing after a bounded
// wait (the view propagates in milliseconds; this is no timing assertion).
func (f *gatewayFixture) eventually(t *testing.T, token string, wantCode int, wantText string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, text := f.get(t, token)
		if code == wantCode && text == wantText {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d %q, want %d %q", code, text, wantCode, wantText)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (f *gatewayFixture) want(t *testing.T, token string, wantCode int, wantText string) {
	t.Helper()
	if code, text := f.get(t, token); code != wantCode || text != wantText {
		t.Errorf("got %d %q, want %d %q", code, text, wantCode, wantText)
	}
}

func TestGatewayEndToEnd(t *testing.T) {
	t.Parallel()
	f := startGatewayFixture(t)
	f.confirmedUser(t, "ann")
	f.confirmedUser(t, "bob")
	now := time.Now()
	ann1, ann2, annNoSID := f.mint(t, "ann", "s-1", now), f.mint(t, "ann", "s-2", now), f.mint(t, "ann", "", now)
	bob := f.mint(t, "bob", "s-1", now)
	for _, tok := range []string{ann1, ann2, annNoSID} {
		f.want(t, tok, 200, "hello ann")
	}
	f.want(t, bob, 200, "hello bob")

	// Revoking one session refuses only the tokens of that sid (and only
	// that user's).
	f.do(t, &events.RevokeSession{CommandMeta: events.CommandMeta{UserID: "ann", Actor: "test"}, SessionID: "s-1"})
	f.eventually(t, ann1, 401, "session revoked")
	f.want(t, ann2, 200, "hello ann")
	f.want(t, annNoSID, 200, "hello ann")
	f.want(t, bob, 200, "hello bob")

	// Disabling refuses the same token that just passed.
	f.do(t, &events.DisableUser{CommandMeta: events.CommandMeta{UserID: "bob", Actor: "test"}})
	f.eventually(t, bob, 401, "user disabled")
	f.want(t, ann2, 200, "hello ann")

	// The gateway reports the revision it applied; with the service quiet
	// its lag is zero.
	r, err := listGateways(t.Context(), f.app.nc, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Gateways) != 1 || r.ServiceRevision == nil {
		t.Fatalf("report %+v, want one gateway and the service's revision", r)
	}
	g := r.Gateways[0]
	if g.ID != "gw-test" || !g.Ready || g.Revision != f.gw.Revision() || g.Lag == nil || *g.Lag != 0 || g.At.IsZero() {
		t.Errorf("gateway %+v (lag %v), want gw-test, ready, at revision %d with lag 0", g, g.Lag, f.gw.Revision())
	}
	if *r.ServiceRevision != g.Revision {
		t.Errorf("service revision %d, gateway revision %d; want equal", *r.ServiceRevision, g.Revision)
	}
	var out bytes.Buffer
	printGateways(&out, r)
	for _, want := range []string{fmt.Sprintf("service revision %d", *r.ServiceRevision), "LAG", "gw-test"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("listing %q lacks %q", out.String(), want)
		}
	}
}

// The rounding rule end to end: a token issued in the second of a
// RevokeSessions is refused, one issued the next second passes.
func TestGatewayRevokedBeforeRounding(t *testing.T) {
	t.Parallel()
	f := startGatewayFixture(t)
	f.confirmedUser(t, "cy")
	out := f.do(t, &events.RevokeSessions{CommandMeta: events.CommandMeta{UserID: "cy", Actor: "test"}})
	_, js := natstest.Connect(t, f.app.NATSURL)
	kv, err := js.KeyValue(t.Context(), natsadapter.RevocationsBucket)
	if err != nil {
		t.Fatal(err)
	}
	// The outcome is in before the view has folded the event: wait for it.
	var e revocation.Entry
	for deadline := time.Now().Add(15 * time.Second); e.Revision < out.EventSeq; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the view's entry for cy is at revision %d, want %d", e.Revision, out.EventSeq)
		}
		kve, err := kv.Get(t.Context(), "cy")
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(kve.Value(), &e); err != nil {
			t.Fatal(err)
		}
	}
	if e.RevokedBefore.IsZero() {
		t.Fatalf("entry %+v has no revoked_before", e)
	}
	sameSecond := e.RevokedBefore.Truncate(time.Second)
	f.eventually(t, f.mint(t, "cy", "", sameSecond.Add(-time.Second)), 401, "token revoked")
	if e.RevokedBefore.Equal(sameSecond) {
		// On a whole second (one chance in a billion) there is nothing to
		// round up: a token of that very second passes.
		f.want(t, f.mint(t, "cy", "", sameSecond), 200, "hello cy")
		return
	}
	f.want(t, f.mint(t, "cy", "", sameSecond), 401, "token revoked")
	f.want(t, f.mint(t, "cy", "", sameSecond.Add(time.Second)), 200, "hello cy")
}

func TestMintToken(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	iat := time.Date(2026, 11, 28, 17, 0, 0, 500_000_000, time.UTC)
	tok, err := mintToken(secret, "ann", "s-1", iat, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	v, err := httpadapter.NewHS256Verifier(secret, httpadapter.VerifierConfig{Now: func() time.Time { return iat }})
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if want := (httpadapter.Token{Subject: "ann", SessionID: "s-1", IssuedAt: iat.Unix(), ExpiresAt: iat.Add(time.Hour).Unix()}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	var c httpadapter.Claims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err != nil {
		t.Fatal(err)
	}
	if !c.ExpiresAt.Equal(iat.Truncate(time.Second).Add(time.Hour)) {
		t.Errorf("exp %v, want iat + 1h", c.ExpiresAt)
	}
	for _, bad := range []struct {
		secret []byte
		user   string
		ttl    time.Duration
	}{{secret, "", time.Hour}, {secret, "ann", 0}, {[]byte("short"), "ann", time.Hour}} {
		if _, err := mintToken(bad.secret, bad.user, "", iat, bad.ttl); err == nil {
			t.Errorf("mintToken(%d-byte secret, %q, ttl %s) succeeded", len(bad.secret), bad.user, bad.ttl)
		}
	}
}

// Flag mistakes exit 1 with a message that says what to do.
func TestGatewayFlags(t *testing.T) {
	t.Parallel()
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(t.TempDir(), "short")
	if err := os.WriteFile(short, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"gateway", "--upstream", "http://127.0.0.1:1"}, "exactly one of --jwks"},
		{[]string{"gateway", "--upstream", "http://127.0.0.1:1", "--jwks", "http://127.0.0.1:1/jwks", "--hs256-secret-file", secretFile}, "exactly one of --jwks"},
		{[]string{"gateway", "--upstream", "ftp://x", "--hs256-secret-file", secretFile}, "--upstream"},
		{[]string{"gateway", "--upstream", "http://127.0.0.1:1", "--hs256-secret-file", short}, "want at least 32"},
		{[]string{"gateway", "--upstream", "http://127.0.0.1:1", "--hs256-secret-file", secretFile, "--id", "a.b", "--nats", "nats://127.0.0.1:1"}, "gateway id"},
		{[]string{"token", "mint", "--user", "ann", "--hs256-secret-file", secretFile, "--iat", "yesterday"}, "--iat"},
	}
	for _, tt := range tests {
		err := rootCommand().Run(context.Background(), append([]string{"userlife"}, tt.args...))
		ec, ok := err.(cli.ExitCoder)
		if !ok || ec.ExitCode() != exitError || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v, want exit %d mentioning %q", tt.args, err, exitError, tt.want)
		}
	}
}

// The gateway command itself: it serves until its context ends, then
// shuts down cleanly.
func TestGatewayCommand(t *testing.T) {
	t.Parallel()
	f := startGatewayFixture(t)
	f.confirmedUser(t, "dee")
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, f.secret, 0o600); err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hi %s", r.Header.Get(httpadapter.SubjectHeader))
	}))
	t.Cleanup(up.Close)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- rootCommand().Run(ctx, []string{"userlife", "--log-level", "error", "gateway", "--listen", addr, "--upstream", up.URL,
			"--nats", f.app.NATSURL, "--hs256-secret-file", secretFile, "--id", "gw-cmd"})
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get("http://" + addr + httpadapter.HealthPath)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("gateway stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not healthy on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.url = "http://" + addr
	f.want(t, f.mint(t, "dee", "", time.Now()), 200, "hi dee")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("gateway returned %v, want nil after its context ended", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("gateway did not stop")
	}
}

func TestDefaultGatewayID(t *testing.T) {
	t.Parallel()
	if id := defaultGatewayID(); !gatewayIDPattern.MatchString(id) || !strings.HasSuffix(id, fmt.Sprintf("-%d", os.Getpid())) {
		t.Errorf("default id %q, want [A-Za-z0-9_-]{1,64} ending in the pid", id)
	}
}

func TestPrintGatewaysNothingHeard(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	printGateways(&out, gatewayReport{})
	want := "service revision unknown (no heartbeat on userlife.revocations.heartbeat; is `userlife serve` running?)\nno gateway heard\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
