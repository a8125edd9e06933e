package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/urfave/cli/v3"

	"github.com/userlife/userlife/adapters/metrics"
	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/adapters/postgres/pgtest"
	"github.com/userlife/userlife/events"
)

// served is a serve started in-process with an HTTP listener, and a client.
type served struct {
	app    *App
	base   string
	client *natsadapter.Client
}

func startServed(t *testing.T, cfg ServeConfig) *served {
	t.Helper()
	if cfg.DataDir == "" && cfg.NATSURL == "" {
		cfg.DataDir, cfg.NATSListen = t.TempDir(), "127.0.0.1:0"
	}
	cfg.HTTPListen, cfg.Logger = "127.0.0.1:0", slog.New(slog.DiscardHandler)
	app, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	_, js := natstest.Connect(t, app.NATSURL)
	client, err := natsadapter.NewClient(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	return &served{app: app, base: "http://" + app.HTTPAddr, client: client}
}

func (s *served) do(t *testing.T, c events.Command) events.Outcome {
	t.Helper()
	o, err := s.client.Do(t.Context(), c)
	if err != nil {
		t.Fatalf("%s: %v", c.CommandName(), err)
	}
	return o
}

// scrape reads /metrics as Prometheus parses it.
func (s *served) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", res.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

// ready reads /readyz.
func (s *served) ready(t *testing.T) (int, metrics.Report) {
	t.Helper()
	res, err := http.Get(s.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var rep metrics.Report
	if err := json.NewDecoder(res.Body).Decode(&rep); err != nil {
		t.Fatalf("GET /readyz: %s, body not JSON: %v", res.Status, err)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET /readyz: Content-Type %q", ct)
	}
	return res.StatusCode, rep
}

// series flattens a family to "label=value,... → value" (counter, gauge,
// or a histogram's count).
func series(mf *dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	if mf == nil {
		return out
	}
	for _, m := range mf.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		slices.Sort(ls)
		var v float64
		switch {
		case m.Counter != nil:
			v = m.Counter.GetValue()
		case m.Gauge != nil:
			v = m.Gauge.GetValue()
		case m.Histogram != nil:
			v = float64(m.Histogram.GetSampleCount())
		}
		out[strings.Join(ls, ",")] = v
	}
	return out
}

// nonZero drops zero series (the counters pre-created at start).
func nonZero(s map[string]float64) map[string]float64 {
	maps.DeleteFunc(s, func(_ string, v float64) bool { return v == 0 })
	return s
}

func lagState(mfs map[string]*dto.MetricFamily) string {
	return fmt.Sprintf("lag %v checkpoint %v revision %v", series(mfs[metrics.ProjectionLag]),
		series(mfs[metrics.ProjectionCheckpoint]), series(mfs[metrics.RevocationViewRevision]))
}

// After commands of every outcome, from the Go client and from a plain
// publish, /metrics counts each by command, status and code, times each,
// counts one append per accepted command, and shows every projection
// caught up with the stream.
func TestServeMetrics(t *testing.T) {
	t.Parallel()
	s := startServed(t, ServeConfig{})
	m := func(id string) events.CommandMeta {
		return events.CommandMeta{UserID: id, Actor: "test", Reason: "test"}
	}
	var head uint64
	for _, id := range []string{"u1", "u2", "u3"} {
		head = s.do(t, &events.RegisterUser{CommandMeta: m(id), Email: id + "@example.com"}).EventSeq
	}
	for _, id := range []string{"u1", "u2"} {
		head = s.do(t, &events.ConfirmUser{CommandMeta: m(id)}).EventSeq
	}
	for range 2 {
		if o := s.do(t, &events.ConfirmUser{CommandMeta: m("u1")}); o.Status != events.StatusUnchanged {
			t.Fatalf("confirm again: %+v", o)
		}
	}
	for range 4 {
		if o := s.do(t, &events.DisableUser{CommandMeta: m("nobody")}); o.Code != events.CodeUnknownUser {
			t.Fatalf("disable unknown user: %+v", o)
		}
	}
	if o := s.do(t, &events.DisableUser{CommandMeta: m("u3")}); o.Code != events.CodeForbiddenTransition {
		t.Fatalf("disable pending user: %+v", o)
	}
	nc, _ := natstest.Connect(t, s.app.NATSURL)
	for _, p := range []struct{ subject, payload string }{
		{"userlife.cmd.DisableUser", `{"user_id":"u1",`},
		{"userlife.cmd.FrobnicateUser", `{"user_id":"u1","actor":"test"}`},
	} {
		if err := nc.Publish(p.subject, []byte(p.payload)); err != nil {
			t.Fatal(err)
		}
	}

	want := map[string]float64{
		"code=,command=RegisterUser,status=accepted":                                  3,
		"code=,command=ConfirmUser,status=accepted":                                   2,
		"code=,command=ConfirmUser,status=unchanged":                                  2,
		"code=unknown_user,command=DisableUser,status=rejected":                       4,
		"code=forbidden_transition,command=DisableUser,status=rejected":               1,
		"code=malformed_command,command=DisableUser,status=rejected":                  1,
		"code=unknown_command,command=" + metrics.UnknownCommand + ",status=rejected": 1,
	}
	var mfs map[string]*dto.MetricFamily
	poll(t, "the command counters", func() (bool, string) {
		mfs = s.scrape(t)
		got := nonZero(series(mfs[metrics.CommandsTotal]))
		return maps.Equal(got, want), fmt.Sprintf("%v", got)
	})
	wantTook := map[string]float64{"command=RegisterUser": 3, "command=ConfirmUser": 4, "command=DisableUser": 6,
		"command=" + metrics.UnknownCommand: 1}
	if got := nonZero(series(mfs[metrics.CommandSeconds])); !maps.Equal(got, wantTook) {
		t.Errorf("%s counts: got %v, want %v", metrics.CommandSeconds, got, wantTook)
	}
	if got := series(mfs[metrics.AppendSeconds])[""]; got != 5 {
		t.Errorf("%s count: got %v, want 5 (one per accepted command)", metrics.AppendSeconds, got)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if mfs[name] == nil {
			t.Errorf("%s missing: the Go and process collectors are not registered", name)
		}
	}

	wantLag := map[string]float64{"projection=users": 0, "projection=audit": 0, "projection=revocation_view": 0}
	wantCP := map[string]float64{"projection=users": float64(head), "projection=audit": float64(head),
		"projection=revocation_view": float64(head)}
	poll(t, "every projection at the stream head", func() (bool, string) {
		mfs = s.scrape(t)
		ok := maps.Equal(series(mfs[metrics.ProjectionLag]), wantLag) &&
			maps.Equal(series(mfs[metrics.ProjectionCheckpoint]), wantCP) &&
			series(mfs[metrics.RevocationViewRevision])[""] == float64(head)
		return ok, lagState(mfs)
	})
	code, rep := s.ready(t)
	if code != 200 || !rep.Ready || len(rep.Checks) != 3 {
		t.Fatalf("GET /readyz: %d %+v, want 200 and ready with 3 checks", code, rep)
	}
}

// A projection held back (its checkpoint row locked, so the projector
// waits) shows its lag; /readyz fails once the lag passes the bound and
// recovers when the projection catches up.
func TestServeProjectionLag(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	s := startServed(t, ServeConfig{PostgresURL: dsn, ReadyMaxLag: 2})
	m := func(id string) events.CommandMeta { return events.CommandMeta{UserID: id, Actor: "test"} }
	first := s.do(t, &events.RegisterUser{CommandMeta: m("u0"), Email: "u0@example.com"}).EventSeq
	poll(t, "users applied the first event", func() (bool, string) {
		mfs := s.scrape(t)
		return series(mfs[metrics.ProjectionCheckpoint])["projection=users"] == float64(first), lagState(mfs)
	})

	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(t.Context()) })
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), `SELECT position FROM projection_checkpoints WHERE name = 'users' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	var head uint64
	for _, id := range []string{"u1", "u2", "u3"} {
		head = s.do(t, &events.RegisterUser{CommandMeta: m(id), Email: id + "@example.com"}).EventSeq
	}
	behind := float64(head - first)
	poll(t, "users held back while the others catch up", func() (bool, string) {
		mfs := s.scrape(t)
		lag := series(mfs[metrics.ProjectionLag])
		return lag["projection=users"] == behind && lag["projection=audit"] == 0 &&
			lag["projection=revocations"] == 0 && lag["projection=revocation_view"] == 0, lagState(mfs)
	})
	code, rep := s.ready(t)
	if code != http.StatusServiceUnavailable || rep.Ready {
		t.Fatalf("GET /readyz with users %v events behind (bound 2): %d %+v, want 503", behind, code, rep)
	}
	if c := rep.Checks[2]; c.Name != "projections" || c.OK || !strings.Contains(c.Detail, fmt.Sprintf("users is %d events behind", head-first)) {
		t.Errorf("projections check: %+v, want it failed naming users", c)
	}
	for _, c := range rep.Checks[:2] {
		if !c.OK {
			t.Errorf("check %s failed: %s", c.Name, c.Detail)
		}
	}

	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	poll(t, "users caught up", func() (bool, string) {
		mfs := s.scrape(t)
		return series(mfs[metrics.ProjectionLag])["projection=users"] == 0, lagState(mfs)
	})
	if code, rep := s.ready(t); code != 200 || !rep.Ready {
		t.Errorf("GET /readyz after catching up: %d %+v, want 200", code, rep)
	}
}

// /readyz follows the NATS connection and the streams: 503 while a stream
// is missing or the server is down, 200 again once they are back.
func TestServeReadyz(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := natstest.ServerAt(t, dir)
	addr := strings.TrimPrefix(srv.ClientURL(), "nats://")
	// Registered before serve's cleanup, so it runs after serve stopped.
	var restarted *natsadapter.Server
	t.Cleanup(func() {
		if restarted != nil {
			restarted.Shutdown()
		}
	})
	s := startServed(t, ServeConfig{NATSURL: srv.ClientURL()})
	_, js := natstest.Connect(t, srv.ClientURL())

	check := func(what string, wantCode int, wantChecks map[string]bool, detail string) {
		t.Helper()
		code, rep := s.ready(t)
		got := map[string]bool{}
		for _, c := range rep.Checks {
			got[c.Name] = c.OK
		}
		if code != wantCode || rep.Ready != (wantCode == 200) || !maps.Equal(got, wantChecks) {
			t.Fatalf("%s: GET /readyz %d %+v, want %d with checks %v", what, code, rep, wantCode, wantChecks)
		}
		if detail != "" && !strings.Contains(fmt.Sprint(rep.Checks), detail) {
			t.Errorf("%s: checks %+v do not mention %q", what, rep.Checks, detail)
		}
	}
	all := map[string]bool{"nats": true, "streams": true, "projections": true}
	check("running", 200, all, "")

	if err := js.DeleteStream(t.Context(), natsadapter.PoisonStream); err != nil {
		t.Fatal(err)
	}
	check("poison stream deleted", 503, map[string]bool{"nats": true, "streams": false, "projections": true},
		"missing: "+natsadapter.PoisonStream)
	if err := natsadapter.Provision(t.Context(), js, natsadapter.StreamsConfig{}); err != nil {
		t.Fatal(err)
	}
	check("streams provisioned again", 200, all, "")

	srv.Shutdown()
	poll(t, "/readyz to see NATS down", func() (bool, string) {
		code, rep := s.ready(t)
		return code == http.StatusServiceUnavailable, fmt.Sprintf("%d %+v", code, rep)
	})
	check("NATS down", 503, map[string]bool{"nats": false, "streams": false, "projections": false}, "not checked: nats failed")

	var err error
	if restarted, err = natsadapter.StartServer(natsadapter.ServerConfig{Listen: addr, DataDir: dir}); err != nil {
		t.Fatalf("restart NATS on %s: %v", addr, err)
	}
	poll(t, "/readyz to see NATS back", func() (bool, string) {
		code, rep := s.ready(t)
		return code == 200, fmt.Sprintf("%d %+v", code, rep)
	})
	check("NATS back", 200, all, "")
}

// serve refuses a lag bound no projection can keep, before starting.
func TestServeReadyMaxLagFlag(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"0", "-5"} {
		args := []string{"userlife", "serve", "--data", t.TempDir(), "--nats-listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--ready-max-lag", v}
		err := rootCommand().Run(context.Background(), args)
		ec, ok := errors.AsType[cli.ExitCoder](err)
		if !ok || ec.ExitCode() != exitError || !strings.Contains(err.Error(), "--ready-max-lag must be at least 1") {
			t.Errorf("--ready-max-lag %s: got %v, want exit %d naming the flag", v, err, exitError)
		}
	}
}
