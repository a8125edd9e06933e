package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/adapters/postgres/pgtest"
	"github.com/userlife/userlife/cmd/userlife/internal/benchkit"
)

// TestBenchQuick runs `userlife bench --quick` with small sizes against
// PostgreSQL and checks that the JSON report holds every figure, each with
// a value and a raw anchor, and that the charts were written. It asserts
// nothing about the figures themselves. It does not run in parallel: the
// footprint figure is the growth of this process's heap, which other tests
// running beside it can shrink below zero (CI saw -8,708 MiB).
func TestBenchQuick(t *testing.T) {
	pg := os.Getenv(pgtest.EnvURL)
	if pg == "" {
		pg = pgtest.DefaultURL
	}
	dir := t.TempDir()
	report, plots := filepath.Join(dir, "bench.json"), filepath.Join(dir, "plots")
	err := rootCommand().Run(context.Background(), []string{"userlife", "bench", "--quick", "--users", "1000", "--events", "5000",
		"--postgres", pg, "--json", report, "--plot", plots})
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var r benchkit.Report
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("report is not JSON: %v", err)
	}
	want := []string{
		"commands_per_sec_1", "command_p50_ms_1", "command_p99_ms_1",
		"commands_per_sec_64", "command_p50_ms_64", "command_p99_ms_64",
		"revocation_p50_ms_idle", "revocation_p99_ms_idle", "revocation_p50_ms_load", "revocation_p99_ms_load",
		"replay_memory_per_sec", "audit_scan_per_sec", "replay_postgres_per_sec",
		"server_memory_mib_per_100k_users", "server_disk_mib_per_100k_users",
		"checker_ns_per_op", "checker_allocs_per_op",
	}
	got := map[string]benchkit.Figure{}
	for _, f := range r.Figures {
		got[f.ID] = f
	}
	for _, id := range want {
		f, ok := got[id]
		if !ok {
			t.Errorf("figure %s missing from the report", id)
			continue
		}
		zeroOK := id == "checker_allocs_per_op" // 0 allocations is the expected value and anchor
		if math.IsNaN(f.Value) || f.Value < 0 || (f.Value == 0 && !zeroOK) {
			t.Errorf("figure %s: value %v", id, f.Value)
		}
		if f.AnchorName == "" || math.IsNaN(f.Anchor) || f.Anchor < 0 || (f.Anchor == 0 && !zeroOK) {
			t.Errorf("figure %s: anchor %v (%q)", id, f.Anchor, f.AnchorName)
		}
		if f.Unit == "" || f.Name == "" {
			t.Errorf("figure %s: no name or unit: %+v", id, f)
		}
	}
	if len(r.Figures) != len(want) {
		t.Errorf("report has %d figures, want %d", len(r.Figures), len(want))
	}
	for _, c := range r.Curves {
		if len(c.Points) != len(concurrencies) {
			t.Errorf("curve %q has %d points, want one per concurrency %v", c.Name, len(c.Points), concurrencies)
		}
	}
	for _, name := range []string{"bench-latency-commands.png", "bench-latency-revocation.png", "bench-throughput.png"} {
		if info, err := os.Stat(filepath.Join(plots, name)); err != nil || info.Size() == 0 {
			t.Errorf("chart %s: %v", name, err)
		}
	}
}

// TestBenchRejectsBadFlags checks that impossible sizes get a clear error
// before anything runs.
func TestBenchRejectsBadFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--users", "5"}, "--users 5: want at least 100"},
		{[]string{"--events", "3"}, "--events 3: want at least 50"},
		{[]string{"--plot", "bench_cmd_test.go"}, "--plot bench_cmd_test.go: not a directory"},
	} {
		err := rootCommand().Run(context.Background(), append([]string{"userlife", "bench", "--quick"}, tc.args...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("bench %v: err %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestBenchRefusesServerWithUserlifeStreams: pointed at a server that
// already holds the userlife streams (a live deployment), bench refuses
// before writing anything and leaves the streams as they were.
func TestBenchRefusesServerWithUserlifeStreams(t *testing.T) {
	t.Parallel()
	url, js := natstest.Provisioned(t)
	ctx := context.Background()
	before, err := streamNames(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	err = rootCommand().Run(ctx, []string{"userlife", "bench", "--quick", "--nats", url})
	if err == nil || !strings.Contains(err.Error(), "already has stream") {
		t.Fatalf("bench on a provisioned server: err %v, want a refusal naming the stream", err)
	}
	after, err := streamNames(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(before)
	slices.Sort(after)
	if !slices.Equal(before, after) {
		t.Errorf("streams changed: before %v, after %v", before, after)
	}
}
