package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/urfave/cli/v3"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
)

func defaultActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if s := os.Getenv("USER"); s != "" {
		return s
	}
	return "unknown"
}

func clientFlags() []cli.Flag {
	return append(natsFlags(),
		&cli.StringFlag{Name: "actor", Value: defaultActor(), Usage: "who is doing this (recorded in the event)", Sources: env("actor")},
		&cli.StringFlag{Name: "reason", Usage: "why (recorded in the event)"},
		&cli.StringFlag{Name: "command-id", Usage: "idempotency key: the same id is never applied twice (default: a new UUIDv7)"},
		&cli.BoolFlag{Name: "no-wait", Usage: "publish and exit without waiting for the outcome"},
		&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "how long to wait for the outcome", Sources: env("timeout")},
		&cli.BoolFlag{Name: "json", Usage: "print the outcome as JSON"},
		&cli.BoolFlag{Name: "wait-enforced", Usage: "after the event, wait until every live gateway has applied it, and say how long it took"},
		&cli.BoolFlag{Name: "no-wait-projection", Usage: "return as soon as the outcome is in, before queries show the change"},
	)
}

func userCommand() *cli.Command {
	byID := func(name, usage string, mk func(m events.CommandMeta) events.Command) *cli.Command {
		return &cli.Command{
			Name: name, Usage: usage, ArgsUsage: "USER_ID", Flags: clientFlags(),
			Action: func(ctx context.Context, cmd *cli.Command) error {
				if cmd.Args().Len() != 1 {
					return cli.Exit(fmt.Sprintf("usage: userlife user %s USER_ID [flags]", name), exitError)
				}
				return sendCommand(ctx, cmd, mk(meta(cmd, cmd.Args().First())))
			},
		}
	}
	register := &cli.Command{
		Name: "register", Usage: "register a pending user", ArgsUsage: "--email EMAIL [--id USER_ID]",
		Flags: append(clientFlags(),
			&cli.StringFlag{Name: "email", Usage: "the user's email (unique among live users, case-insensitive)", Required: true},
			&cli.StringFlag{Name: "id", Usage: "user id, [A-Za-z0-9_-]{1,64} (default: a UUIDv7 the service derives)"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			return sendCommand(ctx, cmd, &events.RegisterUser{CommandMeta: meta(cmd, cmd.String("id")), Email: cmd.String("email")})
		},
	}
	revokeSession := &cli.Command{
		Name: "revoke-session", Usage: "revoke one session of a user: tokens whose sid claim is --session", ArgsUsage: "USER_ID --session SID",
		Flags: append(clientFlags(), &cli.StringFlag{Name: "session", Usage: "the session id (the tokens' sid claim)", Required: true}),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() != 1 {
				return cli.Exit("usage: userlife user revoke-session USER_ID --session SID [flags]", exitError)
			}
			return sendCommand(ctx, cmd, &events.RevokeSession{CommandMeta: meta(cmd, cmd.Args().First()), SessionID: cmd.String("session")})
		},
	}
	return &cli.Command{
		Name:  "user",
		Usage: "query users, or send a lifecycle command and print its outcome (exit 2 when rejected)",
		Commands: []*cli.Command{
			register,
			listCommand(),
			showCommand(),
			erasureCommand(),
			byID("confirm", "confirm a pending user", func(m events.CommandMeta) events.Command { return &events.ConfirmUser{CommandMeta: m} }),
			byID("disable", "disable a confirmed user and revoke all its tokens", func(m events.CommandMeta) events.Command { return &events.DisableUser{CommandMeta: m} }),
			byID("enable", "enable a disabled user (revoked tokens stay revoked)", func(m events.CommandMeta) events.Command { return &events.EnableUser{CommandMeta: m} }),
			byID("delete", "delete a user for good and revoke all its tokens", func(m events.CommandMeta) events.Command { return &events.DeleteUser{CommandMeta: m} }),
			revokeSession,
			byID("revoke-sessions", "revoke every token of a user; it must sign in again", func(m events.CommandMeta) events.Command { return &events.RevokeSessions{CommandMeta: m} }),
		},
	}
}

func meta(cmd *cli.Command, userID string) events.CommandMeta {
	return events.CommandMeta{
		CommandID: cmd.String("command-id"),
		UserID:    userID,
		Actor:     cmd.String("actor"),
		Reason:    cmd.String("reason"),
	}
}

func sendCommand(ctx context.Context, cmd *cli.Command, c events.Command) error {
	ctx, cancel := context.WithTimeout(ctx, cmd.Duration("timeout"))
	defer cancel()
	nc, err := connectCLI(cmd, "is `userlife serve` running? set --nats or USERLIFE_NATS")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return cli.Exit(err.Error(), exitError)
	}
	if err := natsadapter.CheckServer(ctx, js); err != nil {
		return cli.Exit(fmt.Sprintf("%s: %v", cmd.String("nats"), err), exitError)
	}
	client, err := natsadapter.NewClient(ctx, js)
	if err != nil {
		return cli.Exit(fmt.Sprintf("%v (has `userlife serve` provisioned this NATS server?)", err), exitError)
	}
	if cmd.Bool("no-wait") {
		id, err := client.Send(ctx, c)
		if err != nil {
			return cli.Exit(err.Error(), exitError)
		}
		fmt.Printf("sent %s command_id=%s\n", c.CommandName(), id)
		return nil
	}
	var ew *enforcementWatch
	if cmd.Bool("wait-enforced") {
		if ew, err = watchEnforcement(nc); err != nil {
			return cli.Exit(err.Error(), exitError)
		}
		defer ew.stop()
	}
	sentAt := time.Now()
	out, err := client.Do(ctx, c)
	if err != nil {
		return cli.Exit(err.Error(), exitError)
	}
	if out.EventSeq != 0 && !cmd.Bool("no-wait-projection") {
		if err := waitProjected(ctx, nc, out.EventSeq); err != nil {
			fmt.Fprintf(os.Stderr, "userlife: the outcome is in, but the users projection has not shown it yet: %v\n", err)
		}
	}
	var enf *enforcement
	var enfErr error
	if cmd.Bool("wait-enforced") && out.Status == events.StatusAccepted && out.EventSeq != 0 {
		e, err := ew.wait(ctx, out.EventSeq, sentAt, 1500*time.Millisecond)
		if err != nil {
			enfErr = err
		} else {
			enf = &e
		}
	}
	if cmd.Bool("json") {
		b, _ := json.Marshal(out)
		fmt.Println(string(b))
	} else {
		printOutcome(out)
	}
	if enf != nil {
		fmt.Printf("enforced by %d gateway(s) (%s) %s after the command was sent\n", len(enf.Gateways),
			strings.Join(enf.Gateways, ", "), enf.Took.Round(100*time.Microsecond))
	}
	if enfErr != nil {
		return cli.Exit(enfErr.Error(), exitError)
	}
	if out.Status == events.StatusRejected {
		return cli.Exit("", exitRejected)
	}
	return nil
}

func printOutcome(o events.Outcome) {
	line := fmt.Sprintf("%s %s user_id=%s command_id=%s", o.Status, o.Command, o.UserID, o.CommandID)
	if o.EventSeq != 0 {
		line += fmt.Sprintf(" event_seq=%d", o.EventSeq)
	}
	if o.Code != "" {
		line += " code=" + o.Code
	}
	if o.Message != "" {
		line += fmt.Sprintf(" message=%q", o.Message)
	}
	fmt.Println(line)
}
