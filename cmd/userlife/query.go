package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/urfave/cli/v3"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/projections"
)

// natsFlags are --nats and the NATS credential flags.
func natsFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "nats", Value: "nats://127.0.0.1:4222", Usage: "NATS server of the service", Sources: env("nats")},
	}, natsAuthFlags()...)
}

// queryClient connects to the service's query endpoints.
func queryClient(cmd *cli.Command) (*natsadapter.QueryClient, func(), error) {
	nc, err := connectCLI(cmd, "is `userlife serve` running? set --nats or USERLIFE_NATS")
	if err != nil {
		return nil, nil, err
	}
	return natsadapter.NewQueryClient(nc), nc.Close, nil
}

func listCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list users by state, optionally by email prefix, a page at a time",
		Flags: append(natsFlags(),
			&cli.StringFlag{Name: "state", Usage: "pending, confirmed or disabled (default: all)"},
			&cli.StringFlag{Name: "email-prefix", Usage: "only emails starting with this (case-insensitive)"},
			&cli.IntFlag{Name: "limit", Value: 50, Usage: "users per page (at most 1000)"},
			&cli.StringFlag{Name: "after", Usage: "cursor: list users after this id (printed as next=… under a page)"},
			&cli.BoolFlag{Name: "all", Usage: "follow the cursor through every page"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON lines, one user each"},
			atFlag("list the users that were in --state at this time, from the event log"),
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.String("at") != "" {
				return listAt(ctx, cmd)
			}
			qc, done, err := queryClient(cmd)
			if err != nil {
				return err
			}
			defer done()
			q := projections.ListQuery{State: cmd.String("state"), EmailPrefix: cmd.String("email-prefix"),
				After: cmd.String("after"), Limit: int(cmd.Int("limit"))}
			if _, err := q.Normalize(); err != nil {
				return cli.Exit(err.Error(), exitError)
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			if !cmd.Bool("json") {
				fmt.Fprintln(tw, "ID\tEMAIL\tSTATE\tVERSION\tUPDATED")
			}
			n := 0
			for {
				page, err := qc.ListUsers(ctx, q)
				if err != nil {
					return cli.Exit(err.Error(), exitError)
				}
				for _, u := range page.Users {
					n++
					if cmd.Bool("json") {
						b, _ := json.Marshal(u)
						fmt.Println(string(b))
						continue
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", u.ID, u.Email, u.State, u.Version, u.UpdatedAt.Format(time.RFC3339))
				}
				if page.Next == "" || !cmd.Bool("all") {
					tw.Flush()
					if page.Next != "" && !cmd.Bool("json") {
						fmt.Printf("next=%s (more users: --after %s, or --all)\n", page.Next, page.Next)
					}
					break
				}
				q.After = page.Next
			}
			if n == 0 && !cmd.Bool("json") {
				fmt.Println("(no users)")
			}
			return nil
		},
	}
}

func showCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show a user and its history",
		ArgsUsage: "USER_ID",
		Flags: append(natsFlags(), &cli.BoolFlag{Name: "json", Usage: "print JSON"},
			atFlag("show the user as it was at this time and its history up to then, from the event log")),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() != 1 {
				return cli.Exit("usage: userlife user show USER_ID [--at TIME]", exitError)
			}
			if cmd.String("at") != "" {
				return showAt(ctx, cmd, cmd.Args().First())
			}
			id := cmd.Args().First()
			qc, done, err := queryClient(cmd)
			if err != nil {
				return err
			}
			defer done()
			u, uerr := qc.GetUser(ctx, id)
			if uerr != nil && !errors.Is(uerr, projections.ErrNotFound) {
				return cli.Exit(uerr.Error(), exitError)
			}
			history, err := qc.History(ctx, id)
			if err != nil {
				return cli.Exit(err.Error(), exitError)
			}
			if uerr != nil && len(history) == 0 {
				return cli.Exit(fmt.Sprintf("no user %s", id), exitError)
			}
			if cmd.Bool("json") {
				out := map[string]any{"history": history}
				if uerr == nil {
					out["user"] = u
				} else {
					out["user"] = map[string]string{"id": id, "state": "deleted"}
				}
				b, _ := json.MarshalIndent(out, "", "  ")
				fmt.Println(string(b))
				return nil
			}
			erasure := ""
			if uerr != nil {
				erasure = erasureLine(ctx, cmd.String("nats"), id)
			}
			printUser(id, u, uerr == nil, erasure)
			printHistory(history)
			return nil
		},
	}
}

func printUser(id string, u projections.User, exists bool, erasure string) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	if !exists {
		fmt.Fprintf(tw, "id\t%s\nstate\tdeleted\n", id)
		if erasure != "" {
			fmt.Fprintf(tw, "erasure\t%s\n", erasure)
		}
		return
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Format(time.RFC3339Nano)
	}
	fmt.Fprintf(tw, "id\t%s\nemail\t%s\nstate\t%s\nregistered_at\t%s\nconfirmed_at\t%s\ndisabled_at\t%s\nrevoked_before\t%s\nversion\t%d\nupdated_at\t%s\n",
		u.ID, u.Email, u.State, ts(u.RegisteredAt), ts(u.ConfirmedAt), ts(u.DisabledAt), ts(u.RevokedBefore), u.Version, ts(u.UpdatedAt))
}

// erasureLine is a deleted user's erasure receipt in one line ("" if it
// cannot be read).
func erasureLine(ctx context.Context, url, id string) string {
	nc, err := natsadapter.Connect(url, "userlife-cli", nil)
	if err != nil {
		return ""
	}
	defer nc.Close()
	r, err := readErasure(ctx, nc, id)
	if err != nil {
		return ""
	}
	return r.Summary()
}

func printHistory(h []projections.AuditEvent) {
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintln(tw, "SEQ\tTIME\tEVENT\tACTOR\tREASON")
	for _, e := range h {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.Seq, e.OccurredAt.Format(time.RFC3339), e.Type, e.Actor, oneLine(e.Reason))
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// waitProjected makes a command's effect visible before the CLI returns:
// it waits until the users projection has applied event seq.
func waitProjected(ctx context.Context, nc *nats.Conn, seq uint64) error {
	err := natsadapter.NewQueryClient(nc).WaitFor(ctx, projections.Users, seq)
	if errors.Is(err, natsadapter.ErrNoQueryService) {
		return nil // a service without queries: nothing to wait for
	}
	return err
}
