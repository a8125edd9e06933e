package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// GatewaySubjectPrefix is where gateways report the revision they have
// applied: userlife.gateways.<gateway_id>.
const GatewaySubjectPrefix = "userlife.gateways."

// gatewayBeat is a gateway's report.
type gatewayBeat struct {
	ID       string    `json:"id"`
	Revision uint64    `json:"revision"`
	Ready    bool      `json:"ready"`
	StaleMS  int64     `json:"stale_ms"`
	At       time.Time `json:"at"`
}

// enforcement is the result of waiting for gateways.
type enforcement struct {
	Gateways []string      // ids that reported the revision
	Took     time.Duration // from the command's publication
}

// enforcementWatch listens to gateway reports from before a command is
// sent, so that a gateway applying the event at once is seen doing so.
type enforcementWatch struct {
	sub   *nats.Subscription
	beats chan gatewayBeat
}

func watchEnforcement(nc *nats.Conn) (*enforcementWatch, error) {
	w := &enforcementWatch{beats: make(chan gatewayBeat, 1024)}
	sub, err := nc.Subscribe(GatewaySubjectPrefix+"*", func(m *nats.Msg) {
		var b gatewayBeat
		if json.Unmarshal(m.Data, &b) == nil && b.ID != "" {
			b.At = time.Now() // when we heard it
			select {
			case w.beats <- b:
			default:
			}
		}
	})
	if err != nil {
		return nil, err
	}
	w.sub = sub
	return w, nil
}

func (w *enforcementWatch) stop() { _ = w.sub.Unsubscribe() }

// waitEnforced waits until every live gateway (one that reports within
// discover) has applied revision seq. since is when the command was sent.
func waitEnforced(ctx context.Context, nc *nats.Conn, seq uint64, since time.Time, discover time.Duration) (enforcement, error) {
	w, err := watchEnforcement(nc)
	if err != nil {
		return enforcement{}, err
	}
	defer w.stop()
	return w.wait(ctx, seq, since, discover)
}

func (w *enforcementWatch) wait(ctx context.Context, seq uint64, since time.Time, discover time.Duration) (enforcement, error) {
	beats := w.beats
	seen := map[string]uint64{}
	done := map[string]time.Time{}
	discovered := time.After(discover)
	discovering := true
	for {
		if !discovering && len(seen) > 0 && len(done) == len(seen) {
			ids := make([]string, 0, len(done))
			var last time.Time
			for id, at := range done {
				ids = append(ids, id)
				if at.After(last) {
					last = at
				}
			}
			sort.Strings(ids)
			return enforcement{Gateways: ids, Took: last.Sub(since)}, nil
		}
		select {
		case <-ctx.Done():
			var behind []string
			for id, rev := range seen {
				if rev < seq {
					behind = append(behind, fmt.Sprintf("%s at %d", id, rev))
				}
			}
			return enforcement{}, fmt.Errorf("not every gateway has applied revision %d (%s): %w", seq, strings.Join(behind, ", "), ctx.Err())
		case <-discovered:
			discovering = false
			if len(seen) == 0 {
				return enforcement{}, fmt.Errorf("no gateway reported on %s* within %s", GatewaySubjectPrefix, discover)
			}
		case b := <-beats:
			seen[b.ID] = max(seen[b.ID], b.Revision)
			if b.Revision >= seq {
				if _, ok := done[b.ID]; !ok {
					done[b.ID] = b.At
				}
			}
		}
	}
}
