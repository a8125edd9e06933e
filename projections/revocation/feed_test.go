package revocation_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/userlife/userlife/projections/revocation"
)

// clock is a settable clock for Config.Now.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time               { return t0.Add(time.Duration(c.ns.Load())) }
func (c *clock) Advance(d time.Duration)      { c.ns.Add(int64(d)) }
func (c *clock) At(d time.Duration) time.Time { return t0.Add(d) }

func TestCheckStale(t *testing.T) {
	t.Parallel()
	disabled := revocation.Entry{UserID: "bad", State: revocation.StateDisabled, Revision: 1}
	tests := []struct {
		failOpen          bool
		wantStale, wantOK revocation.Reason
	}{
		{false, revocation.ReasonStale, revocation.ReasonStale},
		{true, revocation.ReasonDisabled, revocation.Allowed},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("FailOpen=%v", tt.failOpen), func(t *testing.T) {
			t.Parallel()
			var clk clock
			var seen []revocation.Reason
			c := revocation.NewChecker(revocation.Config{
				MaxStaleness: 5 * time.Second, FailOpen: tt.failOpen, Now: clk.Now,
				OnCheck: func(r revocation.Reason) { seen = append(seen, r) },
			})
			c.Load([]revocation.Entry{disabled}, 1)
			check := func(when string, wantBad, wantGood revocation.Reason) {
				t.Helper()
				if got := c.Check("bad", "", 0); got != wantBad {
					t.Errorf("%s: Check(disabled user) = %v, want %v", when, got, wantBad)
				}
				if got := c.Check("good", "", 0); got != wantGood {
					t.Errorf("%s: Check(unlisted user) = %v, want %v", when, got, wantGood)
				}
			}
			check("fresh", revocation.ReasonDisabled, revocation.Allowed)

			// Recheck does what the staleness timer does when it fires;
			// TestCheckStaleTimer lets the real timer do it.
			clk.Advance(5 * time.Second)
			c.Recheck()
			if got, want := c.Staleness(), 5*time.Second; got != want {
				t.Errorf("Staleness = %v, want %v", got, want)
			}
			check("at MaxStaleness", revocation.ReasonDisabled, revocation.Allowed)

			clk.Advance(time.Nanosecond)
			c.Recheck()
			check("past MaxStaleness", tt.wantStale, tt.wantOK)

			c.Heartbeat(9, clk.Now())
			if got := c.Staleness(); got != 0 {
				t.Errorf("Staleness after Heartbeat = %v, want 0", got)
			}
			if got, want := c.HeardRevision(), uint64(9); got != want {
				t.Errorf("HeardRevision = %d, want %d", got, want)
			}
			check("after a heartbeat", revocation.ReasonDisabled, revocation.Allowed)

			// An older heartbeat does not make the view younger.
			clk.Advance(6 * time.Second)
			c.Heartbeat(10, clk.At(0))
			check("after an old heartbeat", tt.wantStale, tt.wantOK)

			// An update is news too.
			c.Apply(revocation.Entry{UserID: "other", State: revocation.StateConfirmed, Revision: 2})
			check("after an update", revocation.ReasonDisabled, revocation.Allowed)

			if got, want := len(seen), 12; got != want {
				t.Errorf("OnCheck called %d times, want %d", got, want)
			} else if seen[0] != revocation.ReasonDisabled || seen[1] != revocation.Allowed {
				t.Errorf("OnCheck saw %v, want [%v %v ...]", seen[:2], revocation.ReasonDisabled, revocation.Allowed)
			}
		})
	}
}

// TestCheckStaleTimer runs on the real clock: the view turns stale by
// itself when news stops, and fresh again at the next heartbeat.
func TestCheckStaleTimer(t *testing.T) {
	t.Parallel()
	const maxStale = 300 * time.Millisecond
	c := revocation.NewChecker(revocation.Config{MaxStaleness: maxStale})
	start := time.Now()
	c.Load(nil, 1)
	if got := c.Check("u1", "", 0); got != revocation.Allowed && time.Since(start) < maxStale {
		t.Errorf("Check right after Load = %v, want Allowed", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.Check("u1", "", 0) != revocation.ReasonStale {
		if time.Now().After(deadline) {
			t.Fatalf("not stale after %v with MaxStaleness %v", time.Since(start), maxStale)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := time.Since(start); got < maxStale {
		t.Errorf("stale after %v, before MaxStaleness %v", got, maxStale)
	}
	if got := c.Staleness(); got <= maxStale {
		t.Errorf("Staleness = %v while stale, want > %v", got, maxStale)
	}
	beat := time.Now()
	c.Heartbeat(2, beat)
	if got := c.Check("u1", "", 0); got != revocation.Allowed && time.Since(beat) < maxStale {
		t.Errorf("Check after Heartbeat = %v, want Allowed", got)
	}
}

func TestApplyOrdering(t *testing.T) {
	t.Parallel()
	e := func(state string, rev uint64) revocation.Entry {
		return revocation.Entry{UserID: "u1", State: state, Revision: rev}
	}
	tests := []struct {
		name    string
		applies []revocation.Entry
		want    revocation.Reason
		wantRev uint64
	}{
		{"in order", []revocation.Entry{e("confirmed", 2), e("disabled", 5)}, revocation.ReasonDisabled, 5},
		{"older ignored", []revocation.Entry{e("disabled", 5), e("confirmed", 3)}, revocation.ReasonDisabled, 5},
		{"same revision again", []revocation.Entry{e("disabled", 5), e("disabled", 5)}, revocation.ReasonDisabled, 5},
		{"newer wins", []revocation.Entry{e("disabled", 5), e("confirmed", 3), e("confirmed", 8)}, revocation.Allowed, 8},
		{"older than the snapshot ignored", []revocation.Entry{e("confirmed", 1)}, revocation.ReasonDeleted, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, batch := range []bool{false, true} {
				c := revocation.NewChecker(revocation.Config{})
				c.Load([]revocation.Entry{{UserID: "u1", State: revocation.StateDeleted, Revision: 4}}, 4)
				if tt.name != "older than the snapshot ignored" {
					c.Load(nil, 0)
				}
				if batch {
					c.ApplyBatch(tt.applies)
				} else {
					for _, a := range tt.applies {
						c.Apply(a)
					}
				}
				if got := c.Check("u1", "", 0); got != tt.want {
					t.Errorf("batch=%v: Check = %v, want %v", batch, got, tt.want)
				}
				if got := c.Revision(); got != tt.wantRev {
					t.Errorf("batch=%v: Revision = %d, want %d", batch, got, tt.wantRev)
				}
			}
		})
	}
}

func TestLoadReplaces(t *testing.T) {
	t.Parallel()
	c := revocation.NewChecker(revocation.Config{})
	c.Load([]revocation.Entry{{UserID: "u1", State: revocation.StateDisabled, Revision: 3}}, 10)
	c.Apply(revocation.Entry{UserID: "u2", State: revocation.StateDeleted, Revision: 12})
	if got, want := c.Revision(), uint64(12); got != want {
		t.Errorf("Revision = %d, want %d", got, want)
	}
	c.Load([]revocation.Entry{
		{UserID: "u3", State: revocation.StateDisabled, Revision: 20},
		{UserID: "u3", State: revocation.StateConfirmed, Revision: 15}, // the higher revision wins
	}, 20)
	tests := []struct {
		sub  string
		want revocation.Reason
	}{
		{"u1", revocation.Allowed},
		{"u2", revocation.Allowed},
		{"u3", revocation.ReasonDisabled},
	}
	for _, tt := range tests {
		if got := c.Check(tt.sub, "", 0); got != tt.want {
			t.Errorf("Check(%s) = %v, want %v", tt.sub, got, tt.want)
		}
	}
	if got, want := c.Revision(), uint64(20); got != want {
		t.Errorf("Revision = %d, want %d", got, want)
	}
}

// TestApplyKeepsCallerSlices: the view copies what it is given.
func TestApplyKeepsCallerSlices(t *testing.T) {
	t.Parallel()
	sids := []string{"s2", "s1", "s2", ""}
	c := loaded(t)
	c.Apply(revocation.Entry{UserID: "u1", State: revocation.StateConfirmed, RevokedSessions: sids, Revision: 2})
	if got := sids; got[0] != "s2" || got[1] != "s1" || got[3] != "" {
		t.Errorf("Apply changed the caller's slice: %q", got)
	}
	sids[0], sids[1] = "x", "y"
	for _, sid := range []string{"s1", "s2"} {
		if got := c.Check("u1", sid, 0); got != revocation.ReasonSessionRevoked {
			t.Errorf("Check(%s) = %v, want ReasonSessionRevoked", sid, got)
		}
	}
	if got := c.Check("u1", "x", 0); got != revocation.Allowed {
		t.Errorf("Check(x) = %v, want Allowed", got)
	}
}

// TestCheckConcurrent runs readers against one writer applying 100k
// updates while heartbeats arrive; run it with -race. Each user cycles
// through three answers, so any other answer is a torn read.
func TestCheckConcurrent(t *testing.T) {
	t.Parallel()
	const users, updates, readers = 5000, 100_000, 4
	ids := make([]string, users)
	initial := make([]revocation.Entry, users)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%05d", i)
		initial[i] = revocation.Entry{UserID: ids[i], State: revocation.StateConfirmed, Revision: 1}
	}
	c := revocation.NewChecker(revocation.Config{})
	c.Load(initial, 1)

	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan string, readers+1)
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := r; !stop.Load(); i++ {
				got := c.Check(ids[i%users], "s1", t0.Unix())
				if got != revocation.Allowed && got != revocation.ReasonDisabled && got != revocation.ReasonSessionRevoked {
					errs <- fmt.Sprintf("Check(%s) = %v", ids[i%users], got)
					return
				}
			}
		}()
	}
	// Heartbeats come from another goroutine (a NATS subscription), and
	// a health probe reads the counters; neither may disturb the rest.
	wg.Add(2)
	go func() {
		defer wg.Done()
		for n := uint64(1); !stop.Load(); n++ {
			c.Heartbeat(n, time.Now())
		}
	}()
	go func() {
		defer wg.Done()
		var last uint64
		for !stop.Load() {
			rev := c.Revision()
			if rev < last || !c.Ready() || c.Staleness() > time.Minute {
				errs <- fmt.Sprintf("Revision %d after %d, Ready %v, Staleness %v", rev, last, c.Ready(), c.Staleness())
				return
			}
			last = rev
		}
	}()
	for i := range updates {
		e := revocation.Entry{UserID: ids[i%users], State: revocation.StateConfirmed, Revision: uint64(i + 2)}
		switch i % 3 {
		case 1:
			e.State = revocation.StateDisabled
		case 2:
			e.RevokedSessions = []string{"s1"}
		}
		c.Apply(e)
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, want := c.Revision(), uint64(updates+1); got != want {
		t.Errorf("Revision = %d, want %d", got, want)
	}
	// The last update of user i is update number updates-users+i.
	for i, id := range ids {
		want := []revocation.Reason{revocation.Allowed, revocation.ReasonDisabled, revocation.ReasonSessionRevoked}[(updates-users+i)%3]
		if got := c.Check(id, "s1", t0.Unix()); got != want {
			t.Fatalf("final Check(%s) = %v, want %v", id, got, want)
		}
	}
}

// TestCheckAllocs is not parallel: AllocsPerRun counts the whole process.
func TestCheckAllocs(t *testing.T) {
	c := loaded(t,
		revocation.Entry{UserID: "u1", State: revocation.StateConfirmed, RevokedBefore: t0, RevokedSessions: []string{"s1", "s2"}, Revision: 1},
		revocation.Entry{UserID: "u2", State: revocation.StateDisabled, Revision: 1},
	)
	var hooked int
	hook := revocation.NewChecker(revocation.Config{OnCheck: func(revocation.Reason) { hooked++ }})
	hook.Load([]revocation.Entry{{UserID: "u1", State: revocation.StateConfirmed, Revision: 1}}, 1)
	tests := []struct {
		name     string
		c        *revocation.Checker
		sub, sid string
		iat      int64
	}{
		{"hit, allowed", c, "u1", "", t0.Unix() + 5},
		{"hit, revoked", c, "u1", "", t0.Unix() - 5},
		{"hit, disabled", c, "u2", "", 0},
		{"miss", c, "nobody", "", 0},
		{"sid allowed", c, "u1", "s3", t0.Unix() + 5},
		{"sid revoked", c, "u1", "s2", t0.Unix() + 5},
		{"with OnCheck", hook, "u1", "s1", 0},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(1000, func() { tt.c.Check(tt.sub, tt.sid, tt.iat) }); n != 0 {
			t.Errorf("%s: %v allocations per Check, want 0", tt.name, n)
		}
	}
}
