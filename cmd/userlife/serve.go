package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v3"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the service: command intake, event store and (by default) an embedded NATS server",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Value: "./data", Usage: "directory of the embedded NATS server's JetStream files", Sources: env("data")},
			&cli.StringFlag{Name: "nats-listen", Value: "127.0.0.1:4222", Usage: "client address of the embedded NATS server (port 0 picks one)", Sources: env("nats-listen")},
			&cli.StringFlag{Name: "nats", Usage: "use this external NATS server (≥ 2.12, JetStream on) instead of the embedded one", Sources: env("nats")},
			&cli.BoolFlag{Name: "sync-always", Usage: "embedded server: fsync every write before acknowledging it (slower; survives power loss on one node)", Sources: env("sync-always")},
			&cli.IntFlag{Name: "replicas", Value: 1, Usage: "stream replicas: 1, or 3/5 on a NATS cluster", Sources: env("replicas")},
			postgresFlag(),
			&cli.DurationFlag{Name: "ack-wait", Value: 30 * time.Second, Usage: "how long a command stays unacked before it is delivered again (after a crash)", Sources: env("ack-wait")},
			&cli.IntFlag{Name: "cache-users", Value: 100_000, Usage: "users whose state the command handler keeps in memory (0 reads every user's full history per command)", Sources: env("cache-users")},
			&cli.IntFlag{Name: "concurrency", Value: 16, Usage: "commands of each type handled at once by this process", Sources: env("concurrency")},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			log, err := newLogger(cmd)
			if err != nil {
				return err
			}
			app, err := Start(ctx, ServeConfig{
				DataDir:     cmd.String("data"),
				NATSListen:  cmd.String("nats-listen"),
				NATSURL:     cmd.String("nats"),
				SyncAlways:  cmd.Bool("sync-always"),
				Replicas:    int(cmd.Int("replicas")),
				Concurrency: int(cmd.Int("concurrency")),
				AckWait:     cmd.Duration("ack-wait"),
				CacheUsers:  int(cmd.Int("cache-users")),
				PostgresURL: cmd.String("postgres"),
				Logger:      log,
			})
			if err != nil {
				return cli.Exit(err.Error(), exitError)
			}
			where := "external NATS " + app.NATSURL
			if cmd.String("nats") == "" {
				where = fmt.Sprintf("embedded NATS %s (data in %s)", app.NATSURL, cmd.String("data"))
			}
			fmt.Fprintf(os.Stderr, "userlife serving on %s; projections in %s; commands on userlife.cmd.<Command>, events on userlife.events.>; Ctrl-C to stop\n",
				where, app.read.st.kind)
			select {
			case <-ctx.Done():
				fmt.Fprintln(os.Stderr, "userlife: shutting down; finishing commands in flight")
			case err := <-app.Done():
				app.Close()
				return cli.Exit(fmt.Sprintf("command intake stopped: %v", err), exitError)
			}
			if err := app.Close(); err != nil {
				return cli.Exit(fmt.Sprintf("shutdown: %v", err), exitError)
			}
			fmt.Fprintln(os.Stderr, "userlife: stopped")
			return nil
		},
	}
}
