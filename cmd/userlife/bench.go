package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/urfave/cli/v3"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natsbench"
	"github.com/userlife/userlife/cmd/userlife/internal/benchkit"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure every headline figure next to the raw NATS/PostgreSQL capability of this machine, in one run",
		Description: "Starts its own embedded NATS server (on a free port, in a temporary directory, removed at the end)\n" +
			"unless --nats is given, runs the service in-process and prints one table: figure, value, raw anchor,\n" +
			"ratio, target, met. PostgreSQL figures need --postgres or USERLIFE_TEST_DATABASE_URL (a user that may\n" +
			"CREATE DATABASE: the bench creates its own database and drops it).",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quick", Usage: "small counts and short time limits: finishes in under a minute"},
			&cli.IntFlag{Name: "users", Usage: "users in the Checker's view (default 1,000,000); the footprint seeds at most 100,000 (quick: 10,000) and commands spread over at most 10,000 of them"},
			&cli.IntFlag{Name: "events", Usage: "events in the stream the replays and the audit scan read (default 1,000,000; quick 50,000)"},
			&cli.StringFlag{Name: "nats", Usage: "use this external NATS server (≥ 2.12, JetStream, no userlife streams yet) instead of an embedded one; the bench deletes the streams it created"},
			&cli.StringFlag{Name: "postgres", Usage: "PostgreSQL server for the replay figures (default USERLIFE_TEST_DATABASE_URL; none: skipped)", Sources: cli.EnvVars("USERLIFE_TEST_DATABASE_URL")},
			&cli.StringFlag{Name: "json", Usage: "write the report as JSON to this file"},
			&cli.StringFlag{Name: "plot", Usage: "write charts (PNG) into this directory"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cfg := benchConfig{
				Quick: cmd.Bool("quick"), Users: int(cmd.Int("users")), Events: int(cmd.Int("events")),
				NATSURL: cmd.String("nats"), PostgresURL: cmd.String("postgres"),
				JSONPath: cmd.String("json"), PlotDir: cmd.String("plot"), Progress: os.Stderr,
			}
			if err := cfg.validate(); err != nil {
				return cli.Exit(err.Error(), exitError)
			}
			r, err := runBench(ctx, cfg)
			if err != nil {
				return cli.Exit("bench: "+err.Error(), exitError)
			}
			return writeBench(r, cfg, os.Stdout)
		},
	}
}

// benchConfig is what `userlife bench` runs with.
type benchConfig struct {
	Quick         bool
	Users, Events int // 0: the defaults
	NATSURL       string
	PostgresURL   string
	JSONPath      string
	PlotDir       string
	Progress      io.Writer // progress lines; nil: none
	// Audit scans the stream for the audit figure (nil: scanAuditLog, the
	// scanner of `userlife audit`).
	Audit auditScanner
}

func (c *benchConfig) validate() error {
	var errs []error
	if c.Users == 0 {
		c.Users = 1_000_000
	}
	if c.Events == 0 {
		c.Events = map[bool]int{false: 1_000_000, true: 50_000}[c.Quick]
	}
	if c.Users < 100 {
		errs = append(errs, fmt.Errorf("--users %d: want at least 100", c.Users))
	}
	if c.Events < natsbench.LifecycleSteps*10 {
		errs = append(errs, fmt.Errorf("--events %d: want at least %d", c.Events, natsbench.LifecycleSteps*10))
	}
	if c.PlotDir != "" {
		if info, err := os.Stat(c.PlotDir); err == nil && !info.IsDir() {
			errs = append(errs, fmt.Errorf("--plot %s: not a directory", c.PlotDir))
		}
	}
	if c.Audit == nil {
		c.Audit = scanAuditLog
	}
	return errors.Join(errs...)
}

// benchSizes bound every load loop in count and time.
type benchSizes struct {
	cmdUsers   int
	cmdLoad    natsbench.Load // InFlight set per level
	propCount  int
	propTime   time.Duration
	rttCount   int
	checkCount int
	checkTime  time.Duration
	fpUsers    int
	settle     time.Duration
}

func (c benchConfig) sizes() benchSizes {
	if c.Quick {
		return benchSizes{cmdUsers: min(c.Users, 10_000), cmdLoad: natsbench.Load{Count: 3_000, MaxTime: 1500 * time.Millisecond},
			propCount: 150, propTime: 3 * time.Second, rttCount: 300, checkCount: 2_000_000, checkTime: time.Second,
			fpUsers: min(c.Users, 10_000), settle: time.Second}
	}
	return benchSizes{cmdUsers: min(c.Users, 10_000), cmdLoad: natsbench.Load{Count: 60_000, MaxTime: 10 * time.Second},
		propCount: 1_000, propTime: 30 * time.Second, rttCount: 2_000, checkCount: 20_000_000, checkTime: 5 * time.Second,
		fpUsers: min(c.Users, 100_000), settle: 12 * time.Second}
}

// concurrencies are the in-flight levels of the throughput curves.
var concurrencies = []int{1, 4, 16, 64}

// Curve names.
const (
	curveRaw      = "raw JetStream sync publish, expected-subject-sequence"
	curveCommands = "userlife commands, publish → outcome"
)

// runBench runs every measurement and returns the report.
func runBench(ctx context.Context, cfg benchConfig) (*benchkit.Report, error) {
	sz := cfg.sizes()
	began := time.Now()
	progress := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "[%6.1fs] "+format+"\n", append([]any{time.Since(began).Seconds()}, args...)...)
		}
	}
	r := &benchkit.Report{Started: began.UTC(), Machine: benchkit.ThisMachine(), Settings: map[string]any{
		"quick": cfg.Quick, "users": cfg.Users, "events": cfg.Events, "command_users": sz.cmdUsers,
		"footprint_users": sz.fpUsers, "external_nats": cfg.NATSURL != "", "postgres": cfg.PostgresURL != "",
	}}
	dir, err := os.MkdirTemp("", "userlife-bench-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	url := cfg.NATSURL
	quiet := slog.New(slog.DiscardHandler)
	if url == "" {
		srv, err := natsadapter.StartServer(natsadapter.ServerConfig{Listen: "127.0.0.1:0", DataDir: dir + "/nats", Logger: quiet})
		if err != nil {
			return nil, err
		}
		defer srv.Shutdown()
		url = srv.ClientURL()
		progress("embedded NATS on %s, data in %s", url, dir)
	}
	nc, err := natsadapter.Connect(url, "userlife-bench", quiet)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	if cfg.NATSURL != "" {
		cleanup, err := claimExternal(ctx, js)
		if err != nil {
			return nil, err
		}
		defer cleanup()
	}
	if err := benchService(ctx, cfg, sz, r, js, url, progress); err != nil {
		return nil, err
	}
	if err := benchReplay(ctx, cfg, r, js, progress); err != nil {
		return nil, err
	}
	if err := benchFootprint(ctx, sz, r, dir+"/footprint", progress); err != nil {
		return nil, err
	}
	if err := benchChecker(cfg, sz, r, progress); err != nil {
		return nil, err
	}
	r.Seconds = time.Since(began).Seconds()
	progress("done")
	return r, nil
}

// claimExternal refuses an external server that already has userlife
// streams (the bench would write into a live deployment) and returns a
// function that deletes every stream created after it was called.
func claimExternal(ctx context.Context, js jetstream.JetStream) (func(), error) {
	before, err := streamNames(ctx, js)
	if err != nil {
		return nil, err
	}
	for _, n := range before {
		if strings.HasPrefix(n, "USERLIFE") || strings.HasPrefix(n, "KV_userlife") {
			return nil, fmt.Errorf("--nats: the server already has stream %s; the bench writes to the userlife streams, so point it at a server without them", n)
		}
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		after, _ := streamNames(ctx, js)
		for _, n := range after {
			if !slices.Contains(before, n) {
				_ = js.DeleteStream(ctx, n)
			}
		}
	}, nil
}

func streamNames(ctx context.Context, js jetstream.JetStream) ([]string, error) {
	var names []string
	l := js.StreamNames(ctx)
	for n := range l.Name() {
		names = append(names, n)
	}
	return names, l.Err()
}

// writeBench prints the table and writes the JSON and the charts.
func writeBench(r *benchkit.Report, cfg benchConfig, w io.Writer) error {
	if err := r.WriteTable(w); err != nil {
		return err
	}
	if cfg.JSONPath != "" {
		if err := r.WriteJSON(cfg.JSONPath); err != nil {
			return cli.Exit(fmt.Sprintf("--json: %v", err), exitError)
		}
		fmt.Fprintln(os.Stderr, "wrote", cfg.JSONPath)
	}
	if cfg.PlotDir != "" {
		files, err := r.WritePlots(cfg.PlotDir)
		if err != nil {
			return cli.Exit(fmt.Sprintf("--plot: %v", err), exitError)
		}
		for _, f := range files {
			fmt.Fprintln(os.Stderr, "wrote", f)
		}
	}
	if missed := r.Missed(); len(missed) > 0 {
		names := make([]string, len(missed))
		for i, f := range missed {
			names[i] = f.Name
		}
		fmt.Fprintf(w, "\n%d of the targets missed: %s\n", len(missed), strings.Join(names, "; "))
	}
	return nil
}
