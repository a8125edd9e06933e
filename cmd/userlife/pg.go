package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/urfave/cli/v3"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/postgres"
	"github.com/userlife/userlife/projections"
)

// openPostgres migrates the schema (idempotent; concurrent starts take
// turns) and opens the PostgreSQL projections.
func openPostgres(ctx context.Context, url string, log *slog.Logger) (*stores, error) {
	applied, err := postgres.Migrate(ctx, url)
	if err != nil {
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("postgres migrations applied", "migrations", strings.Join(applied, ","))
	}
	st, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	return &stores{kind: "postgres", users: st.Users(), audit: st.Audit(), queries: st,
		maxLatency: 5 * time.Millisecond, close: st.Close, pg: st}, nil
}

func migratePostgres(ctx context.Context, url string, w io.Writer) error {
	applied, err := postgres.Migrate(ctx, url)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(w, "schema is current; nothing to apply")
		return nil
	}
	for _, m := range applied {
		fmt.Fprintln(w, "applied", m)
	}
	return nil
}

func replayCommand() *cli.Command {
	return &cli.Command{
		Name:  "replay",
		Usage: "rebuild PostgreSQL projections from sequence 1 without downtime (build aside, then swap)",
		Description: "The live projections keep serving and keep being updated while the new tables are built;\n" +
			"the swap is one transaction. The embedded in-memory default is rebuilt at every start of serve.",
		Flags: append(natsFlags(), postgresFlag(),
			&cli.StringFlag{Name: "projection", Value: "all", Usage: "users, audit or all"}),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			log, err := newLogger(cmd)
			if err != nil {
				return err
			}
			url := cmd.String("postgres")
			if url == "" {
				return cli.Exit("replay rebuilds PostgreSQL projections: give --postgres URL (or DATABASE_URL); "+
					"the in-memory default is rebuilt from the stream each time serve starts", exitError)
			}
			names := projections.Names()
			if p := cmd.String("projection"); p != "all" {
				if !slices.Contains(names, p) {
					return cli.Exit(fmt.Sprintf("--projection %q: want %s or all", p, strings.Join(names, ", ")), exitError)
				}
				names = []string{p}
			}
			js, done, err := connectJS(ctx, cmd)
			if err != nil {
				return err
			}
			defer done()
			st, err := openPostgres(ctx, url, log)
			if err != nil {
				return cli.Exit(err.Error(), exitError)
			}
			defer st.close()
			begin := time.Now()
			fmt.Printf("replay %s: building aside from sequence 1\n", strings.Join(names, ", "))
			if err := rebuildPostgres(ctx, js, st.pg, names, log); err != nil {
				return cli.Exit(fmt.Sprintf("replay: %v", err), exitError)
			}
			pos, _ := st.queries.Positions(ctx)
			for _, name := range names {
				fmt.Printf("replay %s: swapped in at sequence %d\n", name, pos[name])
			}
			fmt.Printf("replay done in %s\n", time.Since(begin).Round(time.Millisecond))
			return nil
		},
	}
}

// rebuildPostgres rebuilds the named projections aside and swaps each in,
// feeding all of them from one reading of the stream; their shadows are
// finished side by side, then swapped in one after the other, each in its
// own transaction.
func rebuildPostgres(ctx context.Context, js jetstream.JetStream, pg *postgres.Store, names []string, log *slog.Logger) error {
	return pg.RebuildAll(ctx, names, func(ctx context.Context, ps []projections.Projection) error {
		pr := natsadapter.NewProjectors(js, ps, natsadapter.ProjectorConfig{BatchSize: 5000, Logger: log.With("replay", strings.Join(names, ","))})
		return pr.CatchUp(ctx)
	})
}
