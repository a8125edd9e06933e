package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/projections"
)

// servicesCommand manages the data services that owe erasure receipts.
// Services register themselves at startup; operators list them, register
// one by hand, or deregister one that is gone for good (its pending
// receipts stop waiting for it).
func servicesCommand() *cli.Command {
	withRegistry := func(f func(ctx context.Context, cmd *cli.Command, ds *natsadapter.DataServices) error) cli.ActionFunc {
		return func(ctx context.Context, cmd *cli.Command) error {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			js, done, err := connectJS(ctx, cmd)
			if err != nil {
				return err
			}
			defer done()
			ds, err := natsadapter.NewDataServices(ctx, js)
			if err != nil {
				return cli.Exit(fmt.Sprintf("%v (has `userlife serve` provisioned this NATS server?)", err), exitError)
			}
			if err := f(ctx, cmd, ds); err != nil {
				return cli.Exit(err.Error(), exitError)
			}
			return nil
		}
	}
	oneName := func(cmd *cli.Command, usage string) (string, error) {
		if cmd.Args().Len() != 1 {
			return "", fmt.Errorf("usage: userlife services %s", usage)
		}
		return cmd.Args().First(), nil
	}
	return &cli.Command{
		Name:  "services",
		Usage: "data services that erase deleted users' data and send receipts (KV bucket " + natsadapter.DataServicesBucket + ")",
		Commands: []*cli.Command{
			{
				Name: "list", Usage: "list the registered data services",
				Flags: append(natsFlags(), &cli.BoolFlag{Name: "json", Usage: "print JSON lines"}),
				Action: withRegistry(func(ctx context.Context, cmd *cli.Command, ds *natsadapter.DataServices) error {
					svcs, err := ds.List(ctx)
					if err != nil {
						return err
					}
					if cmd.Bool("json") {
						for _, s := range svcs {
							b, _ := json.Marshal(s)
							fmt.Println(string(b))
						}
						return nil
					}
					if len(svcs) == 0 {
						fmt.Println("(no data services registered)")
						return nil
					}
					tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "SERVICE\tREGISTERED\tDESCRIPTION")
					for _, s := range svcs {
						fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Service, s.RegisteredAt.Format(time.RFC3339), oneLine(s.Description))
					}
					return tw.Flush()
				}),
			},
			{
				Name: "register", Usage: "register a data service: every deleted user's receipt waits for it from now on", ArgsUsage: "NAME",
				Flags: append(natsFlags(), &cli.StringFlag{Name: "description", Usage: "what data it holds"}),
				Action: withRegistry(func(ctx context.Context, cmd *cli.Command, ds *natsadapter.DataServices) error {
					name, err := oneName(cmd, "register NAME [--description TEXT]")
					if err != nil {
						return err
					}
					s, err := ds.Register(ctx, projections.DataService{Service: name, Description: cmd.String("description")})
					if err != nil {
						return err
					}
					fmt.Printf("registered %s (since %s)\n", s.Service, s.RegisteredAt.Format(time.RFC3339))
					return nil
				}),
			},
			{
				Name: "deregister", Usage: "remove a data service that is gone: receipts stop waiting for it (those it gave stay)", ArgsUsage: "NAME",
				Flags: natsFlags(),
				Action: withRegistry(func(ctx context.Context, cmd *cli.Command, ds *natsadapter.DataServices) error {
					name, err := oneName(cmd, "deregister NAME")
					if err != nil {
						return err
					}
					if err := ds.Deregister(ctx, name); err != nil {
						return err
					}
					fmt.Printf("deregistered %s\n", name)
					return nil
				}),
			},
		},
	}
}
