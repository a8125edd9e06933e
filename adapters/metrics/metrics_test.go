package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/userlife/userlife/adapters/metrics"
	"github.com/userlife/userlife/events"
)

// Outcomes are counted by command, status and code; a command name the
// service does not know is counted as "unknown", whatever it was.
func TestOutcomeCounts(t *testing.T) {
	t.Parallel()
	m := metrics.New(nil)
	for _, o := range []events.Outcome{
		{Command: events.CmdDisableUser, Status: events.StatusAccepted},
		{Command: events.CmdDisableUser, Status: events.StatusAccepted},
		{Command: events.CmdDisableUser, Status: events.StatusRejected, Code: events.CodeForbiddenTransition},
		{Command: "Frobnicate", Status: events.StatusRejected, Code: events.CodeUnknownCommand},
		{Command: "Whatever", Status: events.StatusRejected, Code: events.CodeUnknownCommand},
	} {
		m.Outcome(o, time.Millisecond)
	}
	want := `
# HELP userlife_commands_total Command outcomes published, by command, status (accepted, unchanged, rejected) and rejection code.
# TYPE userlife_commands_total counter
userlife_commands_total{code="",command="ConfirmUser",status="accepted"} 0
userlife_commands_total{code="",command="ConfirmUser",status="unchanged"} 0
userlife_commands_total{code="",command="DeleteUser",status="accepted"} 0
userlife_commands_total{code="",command="DeleteUser",status="unchanged"} 0
userlife_commands_total{code="",command="DisableUser",status="accepted"} 2
userlife_commands_total{code="",command="DisableUser",status="unchanged"} 0
userlife_commands_total{code="",command="EnableUser",status="accepted"} 0
userlife_commands_total{code="",command="EnableUser",status="unchanged"} 0
userlife_commands_total{code="",command="RecordDataPurged",status="accepted"} 0
userlife_commands_total{code="",command="RecordDataPurged",status="unchanged"} 0
userlife_commands_total{code="",command="RegisterUser",status="accepted"} 0
userlife_commands_total{code="",command="RegisterUser",status="unchanged"} 0
userlife_commands_total{code="",command="RevokeSession",status="accepted"} 0
userlife_commands_total{code="",command="RevokeSession",status="unchanged"} 0
userlife_commands_total{code="",command="RevokeSessions",status="accepted"} 0
userlife_commands_total{code="",command="RevokeSessions",status="unchanged"} 0
userlife_commands_total{code="forbidden_transition",command="DisableUser",status="rejected"} 1
userlife_commands_total{code="unknown_command",command="unknown",status="rejected"} 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), metrics.CommandsTotal); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(m.Registry(), metrics.CommandSeconds); err != nil || n != len(events.CommandNames())+1 {
		t.Errorf("%s series: %d (%v), want one per command and unknown", metrics.CommandSeconds, n, err)
	}
}

// Track refuses sources it could not report honestly.
func TestTrackValidates(t *testing.T) {
	t.Parallel()
	head := func(context.Context) (uint64, error) { return 0, nil }
	cp := func(context.Context) (uint64, error) { return 0, nil }
	tests := []struct {
		name string
		src  metrics.Sources
		want string
	}{
		{"no head", metrics.Sources{}, "StreamHead is required"},
		{"unnamed", metrics.Sources{StreamHead: head, Projections: []metrics.Projection{{Checkpoint: cp}}}, "needs a name"},
		{"twice", metrics.Sources{StreamHead: head, Projections: []metrics.Projection{{Name: "users", Checkpoint: cp}, {Name: "users", Checkpoint: cp}}}, "listed twice"},
	}
	for _, tc := range tests {
		if err := metrics.New(nil).Track(tc.src); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	m := metrics.New(nil)
	if _, err := m.Lags(t.Context()); err == nil {
		t.Error("Lags before Track: no error")
	}
	if err := m.Track(metrics.Sources{StreamHead: head}); err != nil {
		t.Fatal(err)
	}
	if err := m.Track(metrics.Sources{StreamHead: head}); err == nil {
		t.Error("Track twice: no error")
	}
}

// A failed gate check stops the checks after it; /readyz answers 503
// with every check listed, 200 when all pass.
func TestReadiness(t *testing.T) {
	t.Parallel()
	ran := 0
	pass := func(context.Context) (string, error) { ran++; return "fine", nil }
	fail := func(context.Context) (string, error) { ran++; return "", errors.New("down") }

	r := metrics.NewReadiness(0, metrics.Check{Name: "a", Run: pass, Gate: true}, metrics.Check{Name: "b", Run: pass})
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 200 || r.Ready(t.Context()) != nil {
		t.Fatalf("all pass: %d %s", rec.Code, rec.Body)
	}

	ran = 0
	r = metrics.NewReadiness(0, metrics.Check{Name: "a", Run: fail, Gate: true}, metrics.Check{Name: "b", Run: pass})
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	var rep metrics.Report
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	want := metrics.Report{Ready: false, Checks: []metrics.CheckResult{
		{Name: "a", OK: false, Detail: "down"}, {Name: "b", OK: false, Detail: "not checked: a failed"}}}
	if rec.Code != http.StatusServiceUnavailable || rep.Ready != want.Ready || len(rep.Checks) != 2 ||
		rep.Checks[0] != want.Checks[0] || rep.Checks[1] != want.Checks[1] {
		t.Errorf("gate failed: %d %+v, want 503 %+v", rec.Code, rep, want)
	}
	if ran != 1 {
		t.Errorf("checks run after a failed gate: %d, want 1", ran)
	}
	if err := r.Ready(t.Context()); err == nil || !strings.Contains(err.Error(), "a: down") {
		t.Errorf("Ready: %v, want an error naming check a", err)
	}
}
