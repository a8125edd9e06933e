package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "list events from the log: who did what to whom, when and why",
		Description: "Reads the event stream itself (not a projection). --user and --type are applied by the\n" +
			"NATS server (subject filters), --since positions the reading; --actor and the exact time\n" +
			"bounds are checked on each selected event. Times are the events' occurred_at. Data goes to\n" +
			"stdout; progress of a long scan goes to stderr.",
		Flags: append(natsFlags(),
			&cli.StringFlag{Name: "user", Usage: "only this user's events"},
			&cli.StringSliceFlag{Name: "type", Usage: "only events of this type (repeat, or comma-separated), e.g. UserDeleted"},
			&cli.StringFlag{Name: "actor", Usage: "only events sent by this actor"},
			&cli.StringFlag{Name: "since", Usage: "only events that occurred at or after: RFC 3339, a date (UTC) or a duration back from now (24h, 7d)"},
			&cli.StringFlag{Name: "until", Usage: "only events that occurred at or before (same forms as --since)"},
			&cli.StringFlag{Name: "format", Value: "table", Usage: "table, json (one object a line) or csv"},
			&cli.BoolFlag{Name: "quiet", Usage: "no progress on stderr"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() > 0 {
				return cli.Exit(fmt.Sprintf("audit takes no arguments, got %q (use --user ID)", cmd.Args().Slice()), exitError)
			}
			q, err := auditQuery(cmd, time.Now())
			if err != nil {
				return cli.Exit(err.Error(), exitError)
			}
			w, err := newAuditWriter(os.Stdout, cmd.String("format"))
			if err != nil {
				return cli.Exit(err.Error(), exitError)
			}
			js, done, err := connectJS(ctx, cmd)
			if err != nil {
				return err
			}
			defer done()
			l := natsadapter.NewAuditLog(js, natsadapter.AuditConfig{Progress: progressPrinter(cmd, "audit")})
			err = l.Audit(ctx, q, w.Write)
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			if err != nil {
				return cli.Exit(err.Error(), exitError)
			}
			return nil
		},
	}
}

// auditQuery reads the filter flags.
func auditQuery(cmd *cli.Command, now time.Time) (projections.AuditQuery, error) {
	q := projections.AuditQuery{UserID: cmd.String("user"), Actor: cmd.String("actor")}
	for _, v := range cmd.StringSlice("type") {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				q.Types = append(q.Types, events.Type(t))
			}
		}
	}
	var errs error
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if s := cmd.String(f.name); s != "" {
			t, err := parseWhen(f.name, s, now)
			errs = errors.Join(errs, err)
			*f.dst = t
		}
	}
	if errs != nil {
		return q, errs
	}
	return q, q.Validate()
}

// progressPrinter reports a scan on stderr once it has run a second, then
// every second, and its end; nil with --quiet.
func progressPrinter(cmd *cli.Command, what string) func(natsadapter.ScanProgress) {
	if cmd.Bool("quiet") {
		return nil
	}
	shown := false
	return func(p natsadapter.ScanProgress) {
		if !shown && (p.Done || p.Elapsed < time.Second) {
			return
		}
		shown = true
		line := fmt.Sprintf("%s: scanned %d", what, p.Scanned)
		if p.Total > 0 {
			line += fmt.Sprintf(" of %d events (%d%%)", p.Total, 100*p.Scanned/p.Total)
		} else {
			line += " events"
		}
		line += fmt.Sprintf(", %d matched, %.0f events/s", p.Matched, p.Rate())
		if p.Done {
			line += fmt.Sprintf(", done in %s", p.Elapsed.Round(10*time.Millisecond))
		}
		fmt.Fprintln(os.Stderr, line)
	}
}

// auditWriter prints audit rows in one format, streaming.
type auditWriter struct {
	bw    *bufio.Writer
	tw    *tabwriter.Writer
	cw    *csv.Writer
	json  bool
	rows  int
	table bool
}

func newAuditWriter(w io.Writer, format string) (*auditWriter, error) {
	a := &auditWriter{bw: bufio.NewWriterSize(w, 64<<10)}
	switch format {
	case "table":
		a.table = true
		a.tw = tabwriter.NewWriter(a.bw, 0, 4, 2, ' ', 0)
		fmt.Fprintln(a.tw, "SEQ\tTIME\tEVENT\tUSER\tACTOR\tREASON")
	case "json":
		a.json = true
	case "csv":
		a.cw = csv.NewWriter(a.bw)
		if err := a.cw.Write(auditCSVHeader); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("--format %q: want table, json or csv", format)
	}
	return a, nil
}

var auditCSVHeader = []string{"seq", "occurred_at", "type", "user_id", "actor", "reason", "command_id", "correlation_id", "event_id", "data"}

// tableChunk is how many table rows are aligned together: the table
// streams instead of holding every row.
const tableChunk = 1000

func (a *auditWriter) Write(r projections.AuditEvent) error {
	a.rows++
	switch {
	case a.table:
		fmt.Fprintf(a.tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.OccurredAt.Format(time.RFC3339Nano), r.Type, r.UserID, oneLine(r.Actor), oneLine(r.Reason))
		if a.rows%tableChunk == 0 {
			return a.tw.Flush()
		}
		return nil
	case a.json:
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		a.bw.Write(b)
		return a.bw.WriteByte('\n')
	default:
		return a.cw.Write([]string{strconv.FormatUint(r.Seq, 10), r.OccurredAt.Format(time.RFC3339Nano), string(r.Type), r.UserID,
			r.Actor, r.Reason, r.CommandID, r.CorrelationID, r.EventID, string(r.Data)})
	}
}

// Flush writes what is buffered; a table with no rows says so.
func (a *auditWriter) Flush() error {
	if a.table {
		if err := a.tw.Flush(); err != nil {
			return err
		}
		if a.rows == 0 {
			fmt.Fprintln(a.bw, "(no events)")
		}
	}
	if a.cw != nil {
		a.cw.Flush()
		if err := a.cw.Error(); err != nil {
			return err
		}
	}
	return a.bw.Flush()
}
