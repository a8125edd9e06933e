// Command userlife runs the user lifecycle service and talks to it.
//
//	userlife serve                      run the service (embedded NATS by default)
//	userlife user disable ID --reason R publish a command and print its outcome
//	userlife audit --user ID            the user's events, from the log itself
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v3"
)

// Exit codes.
const (
	exitError    = 1 // could not run (bad flags, NATS unreachable, timeout)
	exitRejected = 2 // the service refused the command
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := rootCommand().Run(ctx, os.Args)
	if err != nil {
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			if msg := ec.Error(); msg != "" {
				fmt.Fprintln(os.Stderr, "userlife:", msg)
			}
			os.Exit(ec.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "userlife:", err)
		os.Exit(exitError)
	}
}

func rootCommand() *cli.Command {
	return &cli.Command{
		Name:  "userlife",
		Usage: "event-sourced user lifecycle service on NATS JetStream",
		Description: "Operators register, confirm, disable, enable and delete users and revoke their sessions.\n" +
			"Every flag can also be set with USERLIFE_<FLAG> (e.g. USERLIFE_NATS, USERLIFE_ACTOR).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", Sources: cli.EnvVars("USERLIFE_LOG_LEVEL")},
		},
		ExitErrHandler: func(context.Context, *cli.Command, error) {}, // main prints and exits
		Commands:       []*cli.Command{serveCommand(), userCommand(), migrateCommand(), replayCommand(), verifyCommand(), gatewayCommand(), gatewaysCommand(), tokenCommand(), servicesCommand(), auditCommand(), exportCommand(), benchCommand()},
	}
}

func newLogger(cmd *cli.Command) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cmd.String("log-level"))); err != nil {
		return nil, cli.Exit(fmt.Sprintf("--log-level %q: want debug, info, warn or error", cmd.String("log-level")), exitError)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})), nil
}

func env(name string) cli.ValueSourceChain {
	return cli.EnvVars("USERLIFE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
}
