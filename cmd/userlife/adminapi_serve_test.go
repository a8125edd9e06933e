package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v3"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
)

// serve's admin token configuration: bad entries exit 1 and say why.
func TestServeAdminTokensFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tt := range []struct {
		file, want string
	}{
		{write("short", "short alice admin\n"), "want at least 16"},
		{write("role", "alice-token-0123456789 alice root\n"), `role "root"`},
		{write("fields", "alice-token-0123456789 alice\n"), "<token> <actor> <role>"},
		{write("twice", "alice-token-0123456789 alice admin\nalice-token-0123456789 bob viewer\n"), "twice"},
		{write("empty", "# nobody\n\n"), "no token"},
		{filepath.Join(dir, "missing"), "no such file"},
	} {
		args := []string{"userlife", "serve", "--data", dir, "--nats-listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--admin-tokens-file", tt.file}
		err := rootCommand().Run(context.Background(), args)
		ec, ok := errors.AsType[cli.ExitCoder](err)
		if !ok || ec.ExitCode() != exitError || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want exit %d mentioning %q", filepath.Base(tt.file), err, exitError, tt.want)
		}
	}
	good := write("good", "# operators\nalice-token-0123456789 alice admin\n\n  victor-token-0123456789   victor viewer  \n")
	tokens, err := adminTokens(good, "env-token-0123456789 robot admin; other-token-0123456789 audit viewer")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tk := range tokens {
		got = append(got, tk.Secret+"/"+tk.Actor+"/"+string(tk.Role))
	}
	want := "alice-token-0123456789/alice/admin victor-token-0123456789/victor/viewer env-token-0123456789/robot/admin other-token-0123456789/audit/viewer"
	if strings.Join(got, " ") != want {
		t.Errorf("tokens %v, want %s", got, want)
	}
	if _, err := adminTokens(good, "alice-token-0123456789 alice admin"); err == nil {
		t.Error("the same token in the file and the environment was accepted")
	}
}

// With no service handling commands, a mutation answers 202 with the
// command's Location; the command waits in the queue and its outcome is
// there once a service handles it.
func TestAdminAPIOutcomeLate(t *testing.T) {
	t.Parallel()
	a := startAPI(t, func(c *ServeConfig) { c.AdminOutcomeTimeout = 300 * time.Millisecond })
	if err := a.app.intake.Close(); err != nil {
		t.Fatal(err)
	}
	r := a.do(req{Method: "POST", Path: "/v1/users", Token: adminToken, Body: `{"email":"ann@example.com","user_id":"ann"}`,
		Header: map[string]string{"Idempotency-Key": "late-1"}})
	var p struct {
		CommandID string `json:"command_id"`
		Command   string `json:"command"`
		Status    string `json:"status"`
	}
	r.decode(t, http.StatusAccepted, &p)
	if p.CommandID != "late-1" || p.Status != "pending" || p.Command != events.CmdRegisterUser || r.Header.Get("Location") != "/v1/commands/late-1" {
		t.Errorf("202 %+v, Location %q", p, r.Header.Get("Location"))
	}
	a.do(req{Method: "GET", Path: "/v1/commands/late-1", Token: viewerToken}).wantProblem(t, http.StatusNotFound, "not_found")

	// A second service on the same NATS server handles the queued command.
	second, err := Start(t.Context(), ServeConfig{NATSURL: a.app.NATSURL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Close() })
	_, js := natstest.Connect(t, a.app.NATSURL)
	client, err := natsadapter.NewClient(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	w, err := client.Results().Watch("late-1")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	var o events.Outcome
	a.do(req{Method: "GET", Path: "/v1/commands/late-1", Token: viewerToken}).decode(t, http.StatusOK, &o)
	if o.Status != events.StatusAccepted || o.UserID != "ann" || o.Command != events.CmdRegisterUser {
		t.Errorf("outcome %+v", o)
	}
	// The first service's projections apply the event too.
	var d struct{ User struct{ State string } }
	for d.User.State != "pending" {
		r := a.do(req{Method: "GET", Path: "/v1/users/ann", Token: viewerToken})
		if r.Status == http.StatusOK {
			r.decode(t, http.StatusOK, &d)
		}
		if t.Context().Err() != nil {
			t.Fatal("ann never appeared")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// /readyz answers 503 with the reason once serve has lost NATS.
func TestAdminAPIReadyz(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	type check struct {
		Name   string `json:"name"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	}
	var ready struct {
		Ready  bool    `json:"ready"`
		Checks []check `json:"checks"`
	}
	a.do(req{Method: "GET", Path: "/readyz"}).decode(t, http.StatusOK, &ready)
	if !ready.Ready {
		t.Errorf("readyz %+v", ready)
	}
	a.app.nc.Close()
	ready.Ready, ready.Checks = true, nil
	a.do(req{Method: "GET", Path: "/readyz"}).decode(t, http.StatusServiceUnavailable, &ready)
	if ready.Ready || len(ready.Checks) == 0 || ready.Checks[0].Name != "nats" || ready.Checks[0].OK {
		t.Errorf("readyz without NATS %+v", ready)
	}
}
