package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/urfave/cli/v3"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/projections"
)

func erasureCommand() *cli.Command {
	return &cli.Command{
		Name:      "erasure",
		Usage:     "show a deleted user's erasure receipt: which registered data services have purged its data, which are pending",
		ArgsUsage: "USER_ID",
		Flags:     append(natsFlags(), &cli.BoolFlag{Name: "json", Usage: "print JSON"}),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() != 1 {
				return cli.Exit("usage: userlife user erasure USER_ID", exitError)
			}
			nc, err := connectCLI(cmd, "is `userlife serve` running? set --nats or USERLIFE_NATS")
			if err != nil {
				return err
			}
			defer nc.Close()
			r, err := readErasure(ctx, nc, cmd.Args().First())
			if err != nil {
				return cli.Exit(err.Error(), exitError)
			}
			if cmd.Bool("json") {
				b, _ := json.MarshalIndent(r, "", "  ")
				fmt.Println(string(b))
				return nil
			}
			printErasure(r)
			return nil
		},
	}
}

// readErasure reads a receipt straight from the event stream and the data
// services bucket.
func readErasure(ctx context.Context, nc *nats.Conn, userID string) (projections.ErasureReceipt, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		return projections.ErasureReceipt{}, err
	}
	er, err := natsadapter.NewErasures(ctx, js)
	if err != nil {
		return projections.ErasureReceipt{}, fmt.Errorf("%w (has `userlife serve` provisioned this NATS server?)", err)
	}
	r, err := er.Receipt(ctx, userID)
	switch {
	case errors.Is(err, projections.ErrNotFound):
		return r, fmt.Errorf("no user %s", userID)
	case errors.Is(err, projections.ErrNotDeleted):
		return r, fmt.Errorf("user %s is not deleted: an erasure receipt exists only for a deleted user", userID)
	}
	return r, err
}

func printErasure(r projections.ErasureReceipt) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "user\t%s\ndeleted_at\t%s\ndeleted_by\t%s\n", r.UserID, r.DeletedAt.Format(time.RFC3339Nano), r.DeletedBy)
	if r.DeleteReason != "" {
		fmt.Fprintf(tw, "reason\t%s\n", oneLine(r.DeleteReason))
	}
	complete := "no: some data services have not confirmed"
	if r.Complete {
		complete = "yes: every registered data service confirmed"
	}
	fmt.Fprintf(tw, "complete\t%s\n", complete)
	fmt.Fprintf(tw, "erasure\t%s\n", r.Summary())
	tw.Flush()
}
