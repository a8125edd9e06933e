package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
	"github.com/userlife/userlife/projections/revocation"
)

// fault is one injected fault. backlog holds, per probe, the level the
// probe had to reach to have caught up with what was sent before the
// repair (commands acknowledged by the queue; events in the stream).
type fault struct {
	name     string
	injected time.Time
	repaired time.Time // equal to injected for a fault with no repair step
	backlog  []uint64
}

// figures are what a scenario reports (docs/reliability.md).
type figures struct {
	commands, outcomes, lost, duplicated     int
	accepted, unchanged, rejected            int
	publishRetries, outcomesRepublished      int64
	eventsWithoutCommand, outcomeSeqMismatch int
	rejectedBy                               map[string]int // by code
}

// waitAllOutcomes waits (up to four minutes) until the results stream holds
// as many commands as were sent.
func waitAllOutcomes(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	for {
		s, err := js.Stream(ctx, natsadapter.ResultsStream)
		if err == nil {
			info, err := s.Info(ctx)
			if err == nil && info.State.Msgs >= uint64(n) {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Errorf("not every command has an outcome after four minutes (the check below lists them)")
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitQueueDrained waits (up to two minutes) until the command queue is
// empty: every command acknowledged, so none can be delivered and answered
// again while the ledger is read. (A command whose acknowledgement was lost
// is answered a second time; the results stream then replaces its outcome
// with a copy at a higher sequence, which a reader that has already passed
// that point would miss.)
func waitQueueDrained(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var last jetstream.StreamState
	for {
		s, err := js.Stream(ctx, natsadapter.CommandStream)
		if err == nil {
			info, err := s.Info(ctx)
			if err == nil {
				if info.State.Msgs == 0 {
					return
				}
				last = info.State
			}
		}
		select {
		case <-ctx.Done():
			t.Errorf("the command queue still holds %d commands after two minutes", last.Msgs)
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// prove checks the ledger against the commands sent: one outcome each, one
// event per accepted command and none for the others, no event from a
// command nobody sent.
func prove(t *testing.T, l ledger, ids []string, retries int64) figures {
	t.Helper()
	f := figures{commands: len(ids), publishRetries: retries, rejectedBy: map[string]int{}}
	sent := make(map[string]bool, len(ids))
	for _, id := range ids {
		sent[id] = true
		o, ok := l.outcomes[id]
		if !ok {
			f.lost++
			if f.lost <= 10 {
				t.Errorf("command %s: no outcome", id)
			}
			continue
		}
		f.outcomes++
		evs := l.events[id]
		switch o.Status {
		case events.StatusAccepted:
			f.accepted++
			if len(evs) > 1 {
				f.duplicated++
				t.Errorf("accepted command %s: %d events, want 1", id, len(evs))
			}
			if len(evs) == 0 {
				f.lost++
				t.Errorf("accepted command %s: no event", id)
			} else if evs[0].Seq != o.EventSeq {
				f.outcomeSeqMismatch++
				t.Errorf("command %s: outcome says event_seq %d, its event is %d", id, o.EventSeq, evs[0].Seq)
			}
		default:
			if o.Status == events.StatusUnchanged {
				f.unchanged++
			} else {
				f.rejected++
				f.rejectedBy[o.Code]++
			}
			if len(evs) != 0 {
				f.duplicated++
				t.Errorf("%s command %s: %d events, want 0", o.Status, id, len(evs))
			}
		}
	}
	for id := range l.events {
		if !sent[id] {
			f.eventsWithoutCommand++
			t.Errorf("event from a command nobody sent: %s", id)
		}
	}
	f.outcomesRepublished = int64(l.published) - int64(len(l.outcomes))
	return f
}

// runVerify waits until the users and audit projections have applied every
// event, then runs `userlife verify` (against PostgreSQL when pgURL is set,
// else against the running serve) and fails the test unless it passes.
func runVerify(t *testing.T, js jetstream.JetStream, natsURL, pgURL string, last uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	q := natsadapter.NewQueryClient(js.Conn())
	for _, p := range []string{projections.Users, projections.Audit} {
		if err := retry(ctx, func() error { return q.WaitFor(ctx, p, last) }); err != nil {
			t.Errorf("projection %s did not reach event %d: %v", p, last, err)
			return
		}
	}
	args := []string{"verify", "--nats", natsURL}
	if pgURL != "" {
		args = append(args, "--postgres", pgURL)
	}
	userlife, _ := binaries(t)
	var out []byte
	// verify is run again (up to three times) only when it could not
	// compare (a stream briefly without a leader), never when it found
	// differences.
	for attempt := 1; ; attempt++ {
		var err error
		out, err = exec.CommandContext(ctx, userlife, args...).CombinedOutput()
		if err == nil && strings.Contains(string(out), "OK: projections equal the fold of the stream") {
			break
		}
		if attempt == 3 || strings.Contains(string(out), "differences") || ctx.Err() != nil {
			t.Errorf("userlife verify: %v\n%s", err, out)
			return
		}
		t.Logf("userlife verify could not compare, running it again: %v\n%s", err, out)
		time.Sleep(2 * time.Second)
	}
	t.Logf("userlife verify: %s", strings.TrimSpace(string(out)))
}

// checkRevocations waits until the revocation view's checkpoint reaches the
// last event, then compares every entry of the KV bucket with the view
// folded from the event stream: the same users, each with the same state,
// revoked_before, revoked sessions and revision.
func checkRevocations(t *testing.T, js jetstream.JetStream, l ledger) {
	t.Helper()
	want := map[string]*revocation.Entry{}
	for _, e := range l.allEvents {
		next, err := revocation.Reduce(want[e.UserID], e)
		if err != nil {
			t.Fatalf("fold event %d: %v", e.Seq, err)
		}
		want[e.UserID] = next
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		cp, err := revocationsCheckpoint(ctx, js)
		if err == nil && cp >= l.lastEventSq {
			break
		}
		select {
		case <-ctx.Done():
			t.Errorf("the revocation view did not reach event %d within two minutes (checkpoint %d, %v)", l.lastEventSq, cp, err)
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	var got map[string]string
	if err := retry(ctx, func() error {
		var err error
		got, err = readRevocations(ctx, js)
		return err
	}); err != nil {
		t.Fatalf("read the revocation view: %v", err)
	}
	diffs := 0
	for id, w := range want {
		wj, _ := json.Marshal(w)
		var g revocation.Entry
		if err := json.Unmarshal([]byte(got[id]), &g); err != nil {
			diffs++
			t.Errorf("revocation view: %s: %q, want %s", id, got[id], wj)
			continue
		}
		gj, _ := json.Marshal(&g)
		if string(gj) != string(wj) {
			diffs++
			t.Errorf("revocation view: %s is %s, want %s", id, gj, wj)
		}
	}
	for id := range got {
		if want[id] == nil {
			diffs++
			t.Errorf("revocation view: entry %s for a user with no event", id)
		}
	}
	if diffs == 0 {
		t.Logf("revocation view converged: %d entries equal the fold of %d events", len(want), len(l.allEvents))
	}
}

// probe is a monitor with the name of what it counts and the level it
// must reach to have caught up at a given moment.
type probe struct {
	what   string // "outcomes", "users projection"
	m      *monitor
	target func() uint64
}

func revocationsCheckpoint(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	cps, err := js.KeyValue(ctx, natsadapter.CheckpointsBucket)
	if err != nil {
		return 0, err
	}
	e, err := cps.Get(ctx, natsadapter.RevocationsProjection)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(string(e.Value()), 10, 64)
}

// readRevocations reads every entry of the view's bucket.
func readRevocations(ctx context.Context, js jetstream.JetStream) (map[string]string, error) {
	kv, err := js.KeyValue(ctx, natsadapter.RevocationsBucket)
	if err != nil {
		return nil, err
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	got := map[string]string{}
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("revocation entry %s: %w", k, err)
		}
		got[k] = string(e.Value())
	}
	return got, nil
}

// report logs a scenario's figures: per fault and probe, the time from the
// repair (or the injection, for a fault with no repair step) to the first
// progress and to catching up with the backlog; then the totals.
// docs/reliability.md quotes these lines.
func report(t *testing.T, f figures, faults []fault, probes ...probe) {
	t.Helper()
	for _, ft := range faults {
		for i, p := range probes {
			line := fmt.Sprintf("fault %q: %s: first progress %s after the injection", ft.name, p.what, fmtDur(p.m.firstMoveAfter(ft.injected)))
			if !ft.repaired.Equal(ft.injected) {
				line += fmt.Sprintf(" (+%d while down %s), %s after the repair",
					p.m.valueAt(ft.repaired)-p.m.valueAt(ft.injected), ft.repaired.Sub(ft.injected).Round(time.Millisecond),
					fmtDur(p.m.firstMoveAfter(ft.repaired)))
			}
			line += fmt.Sprintf("; caught up with the backlog (%d) %s after the ", ft.backlog[i], fmtDur(p.m.reachedAfter(ft.repaired, ft.backlog[i])))
			if ft.repaired.Equal(ft.injected) {
				line += "injection"
			} else {
				line += "repair"
			}
			t.Log(line)
		}
	}
	t.Logf("figures: commands=%d outcomes=%d lost=%d duplicated=%d (accepted=%d unchanged=%d rejected=%d %v) publish_retries=%d outcomes_republished=%d",
		f.commands, f.outcomes, f.lost, f.duplicated, f.accepted, f.unchanged, f.rejected, f.rejectedBy, f.publishRetries, f.outcomesRepublished)
}

func fmtDur(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.Round(time.Millisecond).String()
}
