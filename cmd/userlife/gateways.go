package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/urfave/cli/v3"

	natsadapter "github.com/userlife/userlife/adapters/nats"
)

// gatewayLive is how recently a gateway must have been heard to be listed.
const gatewayLive = 5 * time.Second

// gatewayStatus is one live gateway as `userlife gateways` lists it.
type gatewayStatus struct {
	gatewayBeat
	// Lag is the service's revision minus the gateway's, when the service
	// was heard (0 when the gateway is ahead of the service's last
	// heartbeat, which happens between two of them).
	Lag      *uint64 `json:"lag,omitempty"`
	HeardAgo int64   `json:"heard_ms_ago"`
}

// gatewayReport is what listening for a while heard.
type gatewayReport struct {
	ServiceRevision *uint64         `json:"service_revision,omitempty"` // nil: no service heartbeat heard
	Gateways        []gatewayStatus `json:"gateways"`
}

// listGateways listens for gateway and service heartbeats for wait and
// reports the gateways heard within gatewayLive, sorted by id.
func listGateways(ctx context.Context, nc *nats.Conn, wait time.Duration) (gatewayReport, error) {
	type heard struct {
		hb gatewayBeat
		at time.Time
	}
	var (
		mu      sync.Mutex
		latest  = map[string]heard{}
		service *uint64
	)
	handle := func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if m.Subject == natsadapter.HeartbeatSubject {
			var hb natsadapter.Heartbeat
			if json.Unmarshal(m.Data, &hb) == nil && (service == nil || hb.Revision > *service) {
				service = &hb.Revision
			}
			return
		}
		var hb gatewayBeat
		if json.Unmarshal(m.Data, &hb) == nil && hb.ID != "" {
			latest[hb.ID] = heard{hb: hb, at: time.Now()}
		}
	}
	for _, subject := range []string{GatewaySubjectPrefix + "*", natsadapter.HeartbeatSubject} {
		sub, err := nc.Subscribe(subject, handle)
		if err != nil {
			return gatewayReport{}, err
		}
		defer sub.Unsubscribe()
	}
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		return gatewayReport{}, err
	}
	select {
	case <-ctx.Done():
		return gatewayReport{}, ctx.Err()
	case <-time.After(wait):
	}
	mu.Lock()
	defer mu.Unlock()
	r := gatewayReport{ServiceRevision: service, Gateways: []gatewayStatus{}}
	now := time.Now()
	for _, h := range latest {
		if now.Sub(h.at) > gatewayLive {
			continue
		}
		s := gatewayStatus{gatewayBeat: h.hb, HeardAgo: now.Sub(h.at).Milliseconds()}
		if service != nil {
			lag := *service - min(*service, h.hb.Revision)
			s.Lag = &lag
		}
		r.Gateways = append(r.Gateways, s)
	}
	slices.SortFunc(r.Gateways, func(a, b gatewayStatus) int { return strings.Compare(a.ID, b.ID) })
	return r, nil
}

// printGateways writes the report as a table.
func printGateways(w io.Writer, r gatewayReport) {
	if r.ServiceRevision != nil {
		fmt.Fprintf(w, "service revision %d\n", *r.ServiceRevision)
	} else {
		fmt.Fprintln(w, "service revision unknown (no heartbeat on "+natsadapter.HeartbeatSubject+"; is `userlife serve` running?)")
	}
	if len(r.Gateways) == 0 {
		fmt.Fprintln(w, "no gateway heard")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tREVISION\tLAG\tREADY\tSTALE_MS\tHEARD_MS_AGO")
	for _, g := range r.Gateways {
		lag := "?"
		if g.Lag != nil {
			lag = strconv.FormatUint(*g.Lag, 10)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%t\t%d\t%d\n", g.ID, g.Revision, lag, g.Ready, g.StaleMS, g.HeardAgo)
	}
	tw.Flush()
}

func gatewaysCommand() *cli.Command {
	return &cli.Command{
		Name:  "gateways",
		Usage: "list the gateways heard within 5s, with the view revision each applied and its lag behind the service",
		Flags: append(natsFlags(),
			&cli.DurationFlag{Name: "wait", Value: 2 * time.Second, Usage: "how long to listen for heartbeats"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			nc, err := connectCLI(cmd, "set --nats or USERLIFE_NATS")
			if err != nil {
				return err
			}
			defer nc.Close()
			r, err := listGateways(ctx, nc, cmd.Duration("wait"))
			if err != nil {
				return cli.Exit(err.Error(), exitError)
			}
			if cmd.Bool("json") {
				b, _ := json.Marshal(r)
				fmt.Println(string(b))
				return nil
			}
			printGateways(os.Stdout, r)
			return nil
		},
	}
}
