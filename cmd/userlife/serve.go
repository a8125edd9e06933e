package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/urfave/cli/v3"

	httpadapter "github.com/userlife/userlife/adapters/http"
	"github.com/userlife/userlife/adapters/http/console"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the service: command intake, event store and (by default) an embedded NATS server",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "data", Value: "./data", Usage: "directory of the embedded NATS server's JetStream files", Sources: env("data")},
			&cli.StringFlag{Name: "nats-listen", Value: "127.0.0.1:4222", Usage: "client address of the embedded NATS server (port 0 picks one)", Sources: env("nats-listen")},
			&cli.StringFlag{Name: "nats", Usage: "use this external NATS server (≥ 2.12, JetStream on) instead of the embedded one", Sources: env("nats")},
			&cli.BoolFlag{Name: "sync-always", Usage: "embedded server: fsync every write before acknowledging it (slower; survives power loss on one node)", Sources: env("sync-always")},
			&cli.IntFlag{Name: "replicas", Value: 1, Usage: "stream replicas: 1, or 3/5 on a NATS cluster", Sources: env("replicas")},
			postgresFlag(),
			&cli.DurationFlag{Name: "ack-wait", Value: 30 * time.Second, Usage: "how long a command stays unacked before it is delivered again (after a crash)", Sources: env("ack-wait")},
			&cli.IntFlag{Name: "cache-users", Value: 100_000, Usage: "users whose state the command handler keeps in memory (0 reads every user's full history per command)", Sources: env("cache-users")},
			&cli.IntFlag{Name: "concurrency", Value: 16, Usage: "commands of each type handled at once by this process", Sources: env("concurrency")},
			&cli.StringFlag{Name: "http", Value: DefaultHTTPListen, Usage: "HTTP address: console /, admin API /v1, GET /healthz, /readyz, /metrics, POST /v1/introspect (\"\" for none)", Sources: env("http")},
			&cli.StringFlag{Name: "admin-tokens-file", Usage: "`FILE` of admin API tokens, one \"<token> <actor> <role>\" a line (role admin or viewer); USERLIFE_ADMIN_TOKENS adds more", Sources: env("admin-tokens-file")},
			&cli.IntFlag{Name: "ready-max-lag", Value: DefaultReadyMaxLag, Usage: "events a projection may be behind the event stream while GET /readyz answers 200", Sources: env("ready-max-lag")},
			&cli.StringFlag{Name: "introspection-tokens-file", Usage: "turn on POST /v1/introspect for callers presenting a bearer token listed in this file (one a line; needs --jwks or --hs256-secret-file)", Sources: env("introspection-tokens-file")},
			jwksFlag(),
			hs256SecretFileFlag(),
		}, natsAuthFlags()...),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			log, err := newLogger(cmd)
			if err != nil {
				return err
			}
			if err := validateReadyMaxLag(cmd.Int("ready-max-lag")); err != nil {
				return cli.Exit(err.Error(), exitError)
			}
			natsOpts, err := natsOptions(cmd)
			if err != nil {
				return err
			}
			if cmd.String("nats") == "" && len(natsOpts) > 0 {
				return cli.Exit("the NATS credential and TLS flags are for an external server: give --nats URL too "+
					"(the embedded server listens on loopback without authentication)", exitError)
			}
			verifier, callers, off, err := introspectionFlags(ctx, cmd, log)
			if err != nil {
				return err
			}
			tokens, err := adminTokens(cmd.String("admin-tokens-file"), os.Getenv("USERLIFE_ADMIN_TOKENS"))
			if err != nil {
				return cli.Exit(err.Error(), exitError)
			}
			if len(tokens) == 0 && cmd.String("http") != "" {
				log.Warn("admin API: no admin tokens configured; /v1 answers 401 to every request. " + adminTokensHint)
			}
			app, err := Start(ctx, ServeConfig{
				DataDir:             cmd.String("data"),
				NATSListen:          cmd.String("nats-listen"),
				NATSURL:             cmd.String("nats"),
				NATSOptions:         natsOpts,
				SyncAlways:          cmd.Bool("sync-always"),
				Replicas:            int(cmd.Int("replicas")),
				Concurrency:         int(cmd.Int("concurrency")),
				AckWait:             cmd.Duration("ack-wait"),
				CacheUsers:          int(cmd.Int("cache-users")),
				PostgresURL:         cmd.String("postgres"),
				Logger:              log,
				HTTPListen:          cmd.String("http"),
				Verifier:            verifier,
				IntrospectionTokens: callers,
				AdminTokens:         tokens,
				ReadyMaxLag:         uint64(cmd.Int("ready-max-lag")),
				Console:             console.Handler(),
			})
			if err != nil {
				return cli.Exit(err.Error(), exitError)
			}
			where := "external NATS " + app.NATSURL
			if cmd.String("nats") == "" {
				where = fmt.Sprintf("embedded NATS %s (data in %s)", app.NATSURL, cmd.String("data"))
			}
			if app.HTTPAddr != "" {
				where += "; HTTP on http://" + app.HTTPAddr + " (console /, admin API /v1"
				if len(tokens) == 0 {
					where += " refusing every request: no admin tokens"
				}
				where += ", GET /healthz, /readyz, /metrics, POST /v1/introspect"
				if off != "" {
					where += " off: " + off
				}
				where += ")"
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

// introspectionFlags builds what POST /v1/introspect needs from
// --introspection-tokens-file and --jwks or --hs256-secret-file. With
// either half missing it is off, and off says what would turn it on
// (not an error: USERLIFE_HS256_SECRET_FILE may be exported for `token
// mint` in the same shell).
func introspectionFlags(ctx context.Context, cmd *cli.Command, log *slog.Logger) (httpadapter.Verifier, []string, string, error) {
	tokensFile := cmd.String("introspection-tokens-file")
	hasVerifier := cmd.String("jwks") != "" || cmd.String("hs256-secret-file") != ""
	switch {
	case cmd.String("http") == "":
		return nil, nil, "", nil
	case tokensFile == "" && !hasVerifier:
		return nil, nil, "needs --introspection-tokens-file and --jwks or --hs256-secret-file", nil
	case tokensFile == "":
		return nil, nil, "needs --introspection-tokens-file", nil
	case !hasVerifier:
		return nil, nil, "needs --jwks or --hs256-secret-file", nil
	}
	callers, err := readCallerTokens(tokensFile)
	if err != nil {
		return nil, nil, "", cli.Exit(err.Error(), exitError)
	}
	v, err := flagVerifier(ctx, cmd, log)
	if err != nil {
		return nil, nil, "", err
	}
	return v, callers, "", nil
}
