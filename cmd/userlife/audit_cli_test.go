package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// runBin runs the binary against natsURL and returns stdout, stderr and
// the exit code.
func runBin(t *testing.T, natsURL string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(cmd.Environ(), "USERLIFE_NATS="+natsURL)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("userlife %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// auditFixture is a provisioned server holding ann's and bob's lives,
// written through the event store, with instants between them.
type auditFixture struct {
	url    string
	t1, t2 time.Time // after ann's disable; after bob's revocation
}

func newAuditFixture(t *testing.T) auditFixture {
	t.Helper()
	url, js := natstest.Provisioned(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := natsadapter.NewEventStore(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC()
	n := 0
	versions := map[string]uint64{}
	add := func(user, actor, reason string, p events.Payload) time.Time {
		n++
		at = at.Add(time.Millisecond)
		e := events.Event{ID: fmt.Sprintf("ev-%d", n), Type: p.EventType(), UserID: user, OccurredAt: at, Actor: actor,
			Reason: reason, CommandID: fmt.Sprintf("c-%d", n), Data: p}
		v, err := store.Append(ctx, user, versions[user], []events.Event{e})
		if err != nil {
			t.Fatal(err)
		}
		versions[user] = v
		return at
	}
	add("ann", "alice", "", events.UserRegistered{Email: "ann@example.com"})
	add("ann", "alice", "", events.UserConfirmed{})
	d := add("ann", "bob", "chargeback fraud", events.UserDisabled{})
	f := auditFixture{url: url, t1: d}
	add("bob", "alice", "", events.UserRegistered{Email: "bob@example.com"})
	add("bob", "carol", "", events.UserConfirmed{})
	f.t2 = add("bob", "bob", "laptop stolen, \"urgent\"", events.SessionsRevoked{RevokedBefore: at})
	add("ann", "carol", "cleared", events.UserEnabled{})
	add("bob", "alice", "GDPR request #12", events.UserDeleted{RevokedBefore: at})
	return f
}

func TestCLIAudit(t *testing.T) {
	t.Parallel()
	f := newAuditFixture(t)
	ts := func(t time.Time) string { return t.Format(time.RFC3339Nano) }

	out, _, code := runBin(t, f.url, "audit")
	if code != 0 || !strings.HasPrefix(out, "SEQ") || strings.Count(out, "\n") != 9 || !strings.Contains(out, "GDPR request #12") {
		t.Errorf("audit (table), exit %d:\n%s", code, out)
	}

	out, _, code = runBin(t, f.url, "audit", "--user", "ann", "--format", "json")
	var seqs []uint64
	for line := range strings.Lines(out) {
		var r projections.AuditEvent
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.UserID != "ann" {
			t.Fatalf("audit --format json line %q: %v", line, err)
		}
		seqs = append(seqs, r.Seq)
	}
	if code != 0 || !slices.Equal(seqs, []uint64{1, 2, 3, 7}) {
		t.Errorf("audit --user ann: seqs %v, exit %d", seqs, code)
	}

	out, _, code = runBin(t, f.url, "audit", "--type", "UserDeleted", "--type", "SessionsRevoked,UserDisabled", "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || code != 0 || len(recs) != 4 || !slices.Equal(recs[0], auditCSVHeader) {
		t.Fatalf("audit --format csv, exit %d, %v:\n%s", code, err, out)
	}
	if recs[2][0] != "6" || recs[2][5] != `laptop stolen, "urgent"` || recs[3][2] != "UserDeleted" {
		t.Errorf("csv rows %q", recs[1:])
	}

	out, _, _ = runBin(t, f.url, "audit", "--actor", "alice", "--since", ts(f.t1), "--format", "json")
	if n := strings.Count(out, "\n"); n != 2 || !strings.Contains(out, `"seq":4,`) || !strings.Contains(out, `"seq":8,`) {
		t.Errorf("audit --actor alice --since t1:\n%s", out)
	}
	out, _, _ = runBin(t, f.url, "audit", "--until", ts(f.t1), "--format", "json")
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("audit --until t1: %d rows\n%s", n, out)
	}
	out, _, _ = runBin(t, f.url, "audit", "--user", "nobody")
	if !strings.Contains(out, "(no events)") {
		t.Errorf("audit --user nobody:\n%s", out)
	}

	for _, bad := range [][]string{
		{"audit", "--format", "xml"},
		{"audit", "--since", "yesterday"},
		{"audit", "--user", "a.b"},
		{"audit", "--type", "User Deleted"},
		{"audit", "--since", ts(f.t2), "--until", ts(f.t1)},
		{"audit", "ann"},
		{"export", "--since", "1h", "--after-seq", "3"},
		{"user", "list", "--at", "1h"},
		{"user", "list", "--at", "1h", "--state", "gone"},
		{"user", "list", "--at", "1h", "--state", "disabled", "--limit", "5"},
	} {
		out, errOut, code := runBin(t, f.url, bad...)
		if code != exitError || out != "" || !strings.HasPrefix(errOut, "userlife: ") {
			t.Errorf("userlife %q: exit %d, stdout %q, stderr %q; want exit 1 and a message on stderr only", bad, code, out, errOut)
		}
	}
	_, errOut, code := runBin(t, "nats://127.0.0.1:1", "audit")
	if code != exitError || !strings.Contains(errOut, "USERLIFE_NATS") {
		t.Errorf("audit without a server: exit %d, %q", code, errOut)
	}
}

func TestCLIStateAt(t *testing.T) {
	t.Parallel()
	f := newAuditFixture(t)
	ts := func(t time.Time) string { return t.Format(time.RFC3339Nano) }

	out, _, code := runBin(t, f.url, "user", "show", "ann", "--at", ts(f.t2))
	if code != 0 || !containsField(out, "state", "disabled") || !containsField(out, "version", "3") || strings.Contains(out, "UserEnabled") {
		t.Errorf("show ann --at t2, exit %d:\n%s", code, out)
	}
	out, _, _ = runBin(t, f.url, "user", "show", "bob", "--at", "0s", "--json")
	var u projections.UserAt
	if err := json.Unmarshal([]byte(out), &u); err != nil || u.User.State != projections.StateDeleted || len(u.History) != 4 {
		t.Errorf("show bob --at now --json: %v\n%s", err, out)
	}
	out, errOut, code := runBin(t, f.url, "user", "show", "bob", "--at", ts(f.t1))
	if code != exitError || out != "" || !strings.Contains(errOut, "user bob did not exist at") {
		t.Errorf("show bob before registration: exit %d, %q, %q", code, out, errOut)
	}
	out, _, _ = runBin(t, f.url, "user", "list", "--state", "disabled", "--at", ts(f.t2))
	if !strings.Contains(out, "ann@example.com") || strings.Contains(out, "bob") {
		t.Errorf("list --state disabled --at t2:\n%s", out)
	}
	out, _, _ = runBin(t, f.url, "user", "list", "--state", "confirmed", "--at", ts(f.t2), "--json")
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, `"id":"bob"`) {
		t.Errorf("list --state confirmed --at t2:\n%s", out)
	}
	out, _, _ = runBin(t, f.url, "user", "list", "--state", "deleted", "--at", "0s")
	if !strings.Contains(out, "bob  [erased]  deleted") { // the delete destroyed bob's data key
		t.Errorf("list --state deleted --at now:\n%s", out)
	}
}

func TestCLIExport(t *testing.T) {
	t.Parallel()
	f := newAuditFixture(t)
	out, errOut, code := runBin(t, f.url, "export")
	if code != 0 || !strings.Contains(errOut, "export: 8 events up to seq 8") {
		t.Fatalf("export: exit %d, stderr %q", code, errOut)
	}
	var lines []natsadapter.ExportLine
	for line := range strings.Lines(out) {
		l, err := natsadapter.ParseExportLine([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := l.Body()
		e, err := events.Decode(body)
		if err != nil || l.Subject != events.EventSubject(e.UserID, e.Type) || l.Headers[events.HeaderCEID][0] != e.ID {
			t.Fatalf("line %d does not carry its event: %v %+v", len(lines)+1, err, l)
		}
		lines = append(lines, l)
	}
	if len(lines) != 8 || lines[7].Seq != 8 {
		t.Fatalf("export: %d lines", len(lines))
	}
	file := filepath.Join(t.TempDir(), "rest.jsonl")
	out, errOut, code = runBin(t, f.url, "export", "--after-seq", "5", "--output", file)
	rest, err := os.ReadFile(file)
	if code != 0 || out != "" || err != nil || !strings.HasPrefix(string(rest), `{"seq":6,`) || strings.Count(string(rest), "\n") != 3 {
		t.Errorf("export --after-seq 5 --output: exit %d, %v, stderr %q, file:\n%s", code, err, errOut, rest)
	}
	out, _, _ = runBin(t, f.url, "export", "--since", lines[6].Time.Format(time.RFC3339Nano), "--quiet")
	sc := bufio.NewScanner(strings.NewReader(out))
	var got []string
	for sc.Scan() {
		l, _ := natsadapter.ParseExportLine(sc.Bytes())
		got = append(got, strconv.FormatUint(l.Seq, 10))
	}
	if !slices.Equal(got, []string{"7", "8"}) {
		t.Errorf("export --since the 7th's time: seqs %v", got)
	}
}
