package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v3"

	natsadapter "github.com/userlife/userlife/adapters/nats"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "write the event log as JSON lines, exactly as stored, for SIEMs and cold storage",
		Description: "One line per stored message: {\"seq\",\"subject\",\"time\",\"headers\",\"event\"}, where \"event\" is the\n" +
			"stored envelope byte for byte (a body that is not one-line JSON is in \"data_base64\" instead).\n" +
			"Lines go to stdout (or --output); progress and the summary go to stderr.",
		Flags: append(natsFlags(),
			&cli.StringFlag{Name: "since", Usage: "only messages stored at or after (the lines' time): RFC 3339, a date (UTC) or a duration back from now (24h, 7d)"},
			&cli.Uint64Flag{Name: "after-seq", Usage: "only messages after this sequence: the last seq of a previous export continues it"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to this file instead of stdout (created or truncated)"},
			&cli.BoolFlag{Name: "quiet", Usage: "no progress or summary on stderr"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() > 0 {
				return cli.Exit(fmt.Sprintf("export takes no arguments, got %q (use --output FILE or redirect stdout)", cmd.Args().Slice()), exitError)
			}
			var q natsadapter.ExportQuery
			if s := cmd.String("since"); s != "" {
				t, err := parseWhen("since", s, time.Now())
				if err != nil {
					return cli.Exit(err.Error(), exitError)
				}
				q.Since = t
			}
			q.AfterSeq = cmd.Uint64("after-seq")
			if q.AfterSeq > 0 && !q.Since.IsZero() {
				return cli.Exit("--since and --after-seq both say where to start: give one", exitError)
			}
			js, done, err := connectJS(ctx, cmd)
			if err != nil {
				return err
			}
			defer done()
			var out io.Writer = os.Stdout
			if path := cmd.String("output"); path != "" {
				f, err := os.Create(path)
				if err != nil {
					return cli.Exit(err.Error(), exitError)
				}
				defer f.Close()
				out = f
			}
			began := time.Now()
			l := natsadapter.NewAuditLog(js, natsadapter.AuditConfig{Progress: progressPrinter(cmd, "export")})
			n, last, err := l.Export(ctx, out, q)
			if err != nil {
				return cli.Exit(fmt.Sprintf("%v (%d lines written, the last one seq %d)", err, n, last), exitError)
			}
			if f, ok := out.(*os.File); ok && f != os.Stdout {
				if err := f.Sync(); err != nil {
					return cli.Exit(err.Error(), exitError)
				}
			}
			if !cmd.Bool("quiet") {
				if n == 0 {
					fmt.Fprintln(os.Stderr, "export: no events to export")
				} else {
					fmt.Fprintf(os.Stderr, "export: %d events up to seq %d in %s; continue later with --after-seq %d\n",
						n, last, time.Since(began).Round(10*time.Millisecond), last)
				}
			}
			return nil
		},
	}
}
