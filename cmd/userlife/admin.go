package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/urfave/cli/v3"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/projections"
)

func postgresFlag() cli.Flag {
	return &cli.StringFlag{Name: "postgres", Usage: "PostgreSQL URL of the projections (or DATABASE_URL)",
		Sources: cli.EnvVars("USERLIFE_POSTGRES", "DATABASE_URL")}
}

// connectJS opens a JetStream handle on the service's NATS server.
func connectJS(ctx context.Context, cmd *cli.Command) (jetstream.JetStream, func(), error) {
	nc, err := connectCLI(cmd, "set --nats or USERLIFE_NATS")
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, cli.Exit(err.Error(), exitError)
	}
	if err := natsadapter.CheckServer(ctx, js); err != nil {
		nc.Close()
		return nil, nil, cli.Exit(err.Error(), exitError)
	}
	// The callers read the event stream. Ask once and stop on a refusal:
	// the readers behind retry, which a denied permission would turn into
	// an endless loop.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := js.Stream(sctx, natsadapter.EventsStream); err != nil {
		nc.Close()
		hint := "with deploy/nats-server.conf, run this with the service credentials"
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			hint = "has `userlife serve` provisioned this NATS server?"
		}
		return nil, nil, cli.Exit(fmt.Sprintf("cannot read the event stream %s: %v (%s)", natsadapter.EventsStream, err, hint), exitError)
	}
	return js, nc.Close, nil
}

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "compare every projection with a fresh fold of the event stream; exit 1 and print the differences on mismatch",
		Description: "With --postgres it reads the PostgreSQL tables directly; without, it asks the running\n" +
			"`userlife serve` (whichever store it uses) through its query service.",
		Flags: append(natsFlags(), postgresFlag()),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			log, err := newLogger(cmd)
			if err != nil {
				return err
			}
			js, done, err := connectJS(ctx, cmd)
			if err != nil {
				return err
			}
			defer done()
			var target projections.Queries
			where := "the running service (" + cmd.String("nats") + ")"
			if url := cmd.String("postgres"); url != "" {
				st, err := openPostgres(ctx, url, log)
				if err != nil {
					return cli.Exit(err.Error(), exitError)
				}
				defer st.close()
				target, where = st.queries, "PostgreSQL"
			} else {
				target = natsadapter.NewQueryClient(js.Conn())
			}
			rep, err := verifyStore(ctx, js, target)
			if err != nil {
				return cli.Exit("verify: "+err.Error(), exitError)
			}
			fmt.Printf("verified %s at positions users=%d audit=%d\n", where, rep.Positions[projections.Users], rep.Positions[projections.Audit])
			for _, f := range rep.Failures {
				fmt.Printf("failed event: %s seq %d (%s): %s\n", f.Projection, f.Seq, f.Subject, f.Error)
			}
			if len(rep.Diffs) > 0 {
				fmt.Println(strings.Join(rep.Diffs, "\n"))
				return cli.Exit(fmt.Sprintf("verify: %d differences", len(rep.Diffs)), exitError)
			}
			if len(rep.Failures) > 0 {
				fmt.Printf("OK: projections equal the fold of the stream; %d events could not be applied (recorded above)\n", len(rep.Failures))
				return nil
			}
			fmt.Println("OK: projections equal the fold of the stream")
			return nil
		},
	}
}

func migrateCommand() *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "apply the PostgreSQL schema migrations embedded in this binary",
		Flags: []cli.Flag{postgresFlag()},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			url := cmd.String("postgres")
			if url == "" {
				return cli.Exit("migrate needs --postgres URL (or DATABASE_URL)", exitError)
			}
			if err := migratePostgres(ctx, url, os.Stdout); err != nil {
				return cli.Exit("migrate: "+err.Error(), exitError)
			}
			return nil
		},
	}
}
