package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v3"

	httpadapter "github.com/userlife/userlife/adapters/http"
	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
)

const testCaller = "introspection-caller-0123456789"

// introspection is the parts of an answer the tests look at.
type introspection struct {
	Active    bool   `json:"active"`
	Subject   string `json:"sub"`
	SessionID string `json:"sid"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`
	TokenType string `json:"token_type"`
}

func introspect(t *testing.T, base, caller, token string) (int, introspection) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", base+httpadapter.IntrospectPath,
		strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+caller)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got introspection
	if res.StatusCode == 200 {
		if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
	}
	return res.StatusCode, got
}

// The service answers introspection from its revocation view: a token is
// active until its user is disabled.
func TestIntrospectionEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	secret := []byte("introspection-test-secret-0123456789")
	verifier, err := httpadapter.NewHS256Verifier(secret, httpadapter.VerifierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	app, err := Start(ctx, ServeConfig{
		DataDir: t.TempDir(), NATSListen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler),
		HTTPListen: "127.0.0.1:0", Verifier: verifier, IntrospectionTokens: []string{testCaller},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	base := "http://" + app.HTTPAddr
	_, js := natstest.Connect(t, app.NATSURL)
	client, err := natsadapter.NewClient(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	do := func(c events.Command) {
		t.Helper()
		out, err := client.Do(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if out.Status != events.StatusAccepted {
			t.Fatalf("%s: %+v", c.CommandName(), out)
		}
	}
	m := events.CommandMeta{UserID: "ann", Actor: "test"}
	do(&events.RegisterUser{CommandMeta: m, Email: "ann@example.com"})
	do(&events.ConfirmUser{CommandMeta: m})
	iat := time.Now().Add(-time.Minute).Truncate(time.Second)
	token, err := mintToken(secret, "ann", "s-1", iat, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	code, got := introspect(t, base, testCaller, token)
	want := introspection{Active: true, Subject: "ann", SessionID: "s-1", IssuedAt: iat.Unix(),
		ExpiresAt: iat.Add(15 * time.Minute).Unix(), TokenType: "Bearer"}
	if code != 200 || got != want {
		t.Fatalf("before disable: %d %+v, want 200 %+v", code, got, want)
	}
	if code, _ := introspect(t, base, "not-the-caller-token", token); code != http.StatusUnauthorized {
		t.Errorf("wrong caller token: %d, want 401", code)
	}

	do(&events.DisableUser{CommandMeta: events.CommandMeta{UserID: "ann", Actor: "test", Reason: "test"}})
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, got = introspect(t, base, testCaller, token)
		if code == 200 && got == (introspection{}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after disable: still %d %+v", code, got)
		}
		time.Sleep(5 * time.Millisecond)
	}

	res, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "ok\n" {
		t.Errorf("GET /healthz: %d %q, want 200 \"ok\\n\"", res.StatusCode, b)
	}

	// Close finishes and stops the listener.
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("GET /healthz after Close: answered")
	}
}

// Without a verifier and caller tokens, /v1/introspect is 404 and says
// which flags turn it on; /healthz still answers.
func TestIntrospectionOff(t *testing.T) {
	t.Parallel()
	app, err := Start(t.Context(), ServeConfig{
		DataDir: t.TempDir(), NATSListen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler), HTTPListen: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	res, err := http.Post("http://"+app.HTTPAddr+httpadapter.IntrospectPath, "application/x-www-form-urlencoded", strings.NewReader("token=x"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	if res.StatusCode != 404 || body.Error != "not_found" || !strings.Contains(body.Description, "--introspection-tokens-file") ||
		!strings.Contains(body.Description, "--hs256-secret-file") {
		t.Errorf("POST %s: %d %s, want 404 naming the flags", httpadapter.IntrospectPath, res.StatusCode, b)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	res, err = http.Get("http://" + app.HTTPAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("GET /healthz: %d, want 200", res.StatusCode)
	}
}

// The zero ServeConfig has no HTTP listener; a taken HTTP address fails
// Start with a plain message.
func TestServeHTTPListen(t *testing.T) {
	t.Parallel()
	app, err := Start(t.Context(), ServeConfig{DataDir: t.TempDir(), NATSListen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	app.Close()
	if app.HTTPAddr != "" {
		t.Errorf("HTTPAddr = %q with no HTTPListen, want none", app.HTTPAddr)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, err = Start(t.Context(), ServeConfig{DataDir: t.TempDir(), NATSListen: "127.0.0.1:0", HTTPListen: taken.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "address already in use") || !strings.Contains(err.Error(), "--http") {
		t.Errorf("Start on a taken HTTP address: %v, want a message naming --http", err)
	}
}

// serve's introspection flags: bad files exit 1 and say why.
func TestServeIntrospectionFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secret := write("secret", "0123456789abcdef0123456789abcdef\n")
	good := write("good", "# callers\n"+testCaller+"\n\n  another-caller-0123456789  \n")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--introspection-tokens-file", write("short", "short\n"), "--hs256-secret-file", secret}, "want at least 16"},
		{[]string{"--introspection-tokens-file", write("empty", "# none\n\n"), "--hs256-secret-file", secret}, "no token"},
		{[]string{"--introspection-tokens-file", write("spaces", "a token with spaces in it\n"), "--hs256-secret-file", secret}, "spaces"},
		{[]string{"--introspection-tokens-file", filepath.Join(dir, "missing"), "--hs256-secret-file", secret}, "no such file"},
		{[]string{"--introspection-tokens-file", good, "--hs256-secret-file", secret, "--jwks", "http://127.0.0.1:1/jwks"}, "exactly one of --jwks"},
		{[]string{"--introspection-tokens-file", good, "--hs256-secret-file", write("weak", "weak\n")}, "want at least 32"},
	}
	for _, tt := range tests {
		args := append([]string{"userlife", "serve", "--data", dir, "--nats-listen", "127.0.0.1:0", "--http", "127.0.0.1:0"}, tt.args...)
		err := rootCommand().Run(context.Background(), args)
		ec, ok := errors.AsType[cli.ExitCoder](err)
		if !ok || ec.ExitCode() != exitError || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v, want exit %d mentioning %q", tt.args, err, exitError, tt.want)
		}
	}
	tokens, err := readCallerTokens(good)
	if err != nil || strings.Join(tokens, ",") != testCaller+",another-caller-0123456789" {
		t.Errorf("readCallerTokens = %q, %v", tokens, err)
	}
}
