package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/projections"
)

func atFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: "at", Usage: usage + ": RFC 3339, a date (UTC) or a duration back from now (24h, 7d)"}
}

// showAt prints a user as it was at --at: the fold of its events up to then.
func showAt(ctx context.Context, cmd *cli.Command, id string) error {
	at, err := parseWhen("at", cmd.String("at"), time.Now())
	if err != nil {
		return cli.Exit(err.Error(), exitError)
	}
	js, done, err := connectJS(ctx, cmd)
	if err != nil {
		return err
	}
	defer done()
	u, err := natsadapter.NewAuditLog(js, natsadapter.AuditConfig{}).StateAt(ctx, id, at)
	if err != nil {
		return cli.Exit(err.Error(), exitError)
	}
	if cmd.Bool("json") {
		b, _ := json.MarshalIndent(u, "", "  ")
		fmt.Println(string(b))
		return nil
	}
	printUserAt(u)
	printHistory(u.History)
	for _, f := range u.Failures {
		fmt.Fprintln(os.Stderr, "userlife: not applied:", f)
	}
	return nil
}

func printUserAt(u projections.UserAt) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Format(time.RFC3339Nano)
	}
	r := u.User
	fmt.Fprintf(tw, "at\t%s\nid\t%s\nemail\t%s\nstate\t%s\nregistered_at\t%s\nconfirmed_at\t%s\ndisabled_at\t%s\n",
		ts(u.At), r.ID, r.Email, r.State, ts(r.RegisteredAt), ts(r.ConfirmedAt), ts(r.DisabledAt))
	if r.State == projections.StateDeleted {
		fmt.Fprintf(tw, "deleted_at\t%s\n", ts(r.DeletedAt))
	}
	fmt.Fprintf(tw, "revoked_before\t%s\nversion\t%d\nupdated_at\t%s\n", ts(r.RevokedBefore), r.Version, ts(r.UpdatedAt))
}

// listAt lists the users that were in --state at --at: one reading of the
// stream from the start.
func listAt(ctx context.Context, cmd *cli.Command) error {
	at, err := parseWhen("at", cmd.String("at"), time.Now())
	if err != nil {
		return cli.Exit(err.Error(), exitError)
	}
	state := cmd.String("state")
	if state == "" {
		return cli.Exit("--at needs --state: pending, confirmed, disabled or deleted", exitError)
	}
	if err := projections.ValidStateAt(state); err != nil {
		return cli.Exit("--state: "+err.Error(), exitError)
	}
	for _, f := range []string{"after", "limit", "all"} {
		if cmd.IsSet(f) {
			return cli.Exit(fmt.Sprintf("--%s does not apply with --at: it lists every match at once", f), exitError)
		}
	}
	js, done, err := connectJS(ctx, cmd)
	if err != nil {
		return err
	}
	defer done()
	users, err := natsadapter.NewAuditLog(js, natsadapter.AuditConfig{Progress: progressPrinter(cmd, "list")}).ListAt(ctx, state, at)
	if err != nil {
		return cli.Exit(err.Error(), exitError)
	}
	prefix := strings.ToLower(cmd.String("email-prefix"))
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	if !cmd.Bool("json") {
		fmt.Fprintln(tw, "ID\tEMAIL\tSTATE\tVERSION\tUPDATED")
	}
	n := 0
	for _, u := range users {
		if !strings.HasPrefix(strings.ToLower(u.Email), prefix) {
			continue
		}
		n++
		if cmd.Bool("json") {
			b, _ := json.Marshal(u)
			fmt.Println(string(b))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", u.ID, u.Email, u.State, u.Version, u.UpdatedAt.Format(time.RFC3339))
	}
	if n == 0 && !cmd.Bool("json") {
		fmt.Fprintf(tw, "(no %s users at %s)\n", state, at.Format(time.RFC3339Nano))
	}
	return nil
}
