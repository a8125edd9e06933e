// Command todopurge is a runnable example of a downstream service that
// reacts to userlife's events: it owns a todo_items table in PostgreSQL
// and, when a user is deleted, deletes that user's items and reports the
// erasure to userlife with RecordDataPurged, which shows in the user's
// erasure receipt (`userlife user erasure ID`). It consumes UserDeleted
// with Watermill's CQRS EventProcessor on a durable JetStream consumer of
// its own, and stays idempotent under redelivery. See docs/downstream.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "todopurge:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	cfg, level, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	p, err := start(startCtx, cfg)
	cancel()
	if err != nil {
		return err
	}
	cfg.Logger.Info("todopurge running", "service", cfg.Service, "nats", cfg.NATSURL)
	select {
	case <-ctx.Done():
		cfg.Logger.Info("stopping")
		return p.Close()
	case err := <-p.Done():
		_ = p.Close()
		return err
	}
}

func parseFlags(args []string, stderr io.Writer) (Config, slog.Level, error) {
	fs := flag.NewFlagSet("todopurge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg Config
	var level slog.Level
	fs.StringVar(&cfg.NATSURL, "nats", envOr("USERLIFE_NATS", "nats://127.0.0.1:4222"), "NATS server of userlife (env USERLIFE_NATS)")
	fs.StringVar(&cfg.PostgresURL, "postgres", os.Getenv("DATABASE_URL"), "the service's PostgreSQL database (env DATABASE_URL)")
	fs.StringVar(&cfg.Service, "service", "todo", "name to register under and report purges with")
	fs.StringVar(&cfg.Description, "description", "to-do items (todo_items.owner_id)", "what data the service holds, shown to operators")
	fs.StringVar(&cfg.Durable, "durable", "", `JetStream durable consumer (default "<service>-purge")`)
	fs.DurationVar(&cfg.AckWait, "ack-wait", 30*time.Second, "redeliver a UserDeleted not acknowledged after this long")
	fs.IntVar(&cfg.Concurrency, "concurrency", 4, "UserDeleted events handled at once")
	fs.TextVar(&level, "log-level", slog.LevelInfo, "debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: todopurge --postgres URL [--nats URL] [--service todo] [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, level, err
	}
	if fs.NArg() > 0 {
		return cfg, level, fmt.Errorf("unexpected arguments %q; see --help", fs.Args())
	}
	return cfg, level, cfg.Validate()
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
