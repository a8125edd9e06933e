package memory_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/userlife/userlife/adapters/memory"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// lifecycles is a stream of n users registering, confirming, revoking;
// every third is disabled and every fifth deleted. The events go through
// the codec as the projector's do.
func lifecycles(t *testing.T, n int) projections.Batch {
	t.Helper()
	var b projections.Batch
	epoch := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { return epoch.Add(time.Duration(len(b)+1) * time.Millisecond) }
	add := func(id string, p events.Payload) {
		seq := uint64(len(b) + 1)
		at := now()
		data, err := events.Encode(events.Event{ID: fmt.Sprintf("evt-%d", seq), Type: p.EventType(), UserID: id,
			OccurredAt: at, Actor: "admin", CommandID: fmt.Sprintf("cmd-%d", seq), Data: p})
		if err != nil {
			t.Fatalf("events.Encode: %v", err)
		}
		e, err := events.Decode(data)
		if err != nil {
			t.Fatalf("events.Decode: %v", err)
		}
		e.Seq = seq
		b = append(b, projections.Message{Seq: seq, Subject: events.EventSubject(id, e.Type), Data: data, Event: e})
	}
	for i := range n {
		add(fmt.Sprintf("u%04d", i), events.UserRegistered{Email: fmt.Sprintf("user%d@x.com", i)})
	}
	for i := range n {
		id := fmt.Sprintf("u%04d", i)
		add(id, events.UserConfirmed{})
		add(id, events.SessionsRevoked{RevokedBefore: now()})
		if i%3 == 0 {
			add(id, events.UserDisabled{RevokedBefore: now()})
		}
		if i%5 == 0 {
			add(id, events.UserDeleted{RevokedBefore: now()})
		}
	}
	return b
}

// TestConcurrentReadsWhileApplying runs both projectors (one writer each)
// against readers of every query; -race checks the locking, the readers
// check that what they see only moves forward and never runs ahead of the
// checkpoints.
func TestConcurrentReadsWhileApplying(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := memory.New()
	b := lifecycles(t, 400)
	done := make(chan struct{})
	var started, writers, readers sync.WaitGroup
	for r := range 4 {
		started.Add(1)
		readers.Go(func() { read(ctx, t, s, r, started.Done, done) })
	}
	started.Wait() // every reader is reading before the first write
	for _, p := range []projections.Projection{s.Users(), s.Audit()} {
		writers.Go(func() {
			for rest := b; len(rest) > 0; {
				k := min(37, len(rest))
				if err := p.Apply(ctx, rest[:k]); err != nil {
					t.Errorf("%s.Apply: %v", p.Name(), err)
					return
				}
				rest = rest[k:]
			}
		})
	}
	writers.Wait()
	close(done)
	readers.Wait()

	want := projections.NewUsersTable()
	for _, m := range b {
		want.Apply(m, time.Now())
	}
	for id, w := range want.Rows {
		if got, err := s.GetUser(ctx, id); err != nil || got != w {
			t.Errorf("GetUser(%s) = %+v, %v; want %+v", id, got, err, w)
		}
	}
}

// read queries s until done, checking what it sees.
func read(ctx context.Context, t *testing.T, s *memory.Store, r int, started func(), done <-chan struct{}) {
	started = sync.OnceFunc(started)
	defer started() // also when a failed check returns early
	var last map[string]uint64
	for i := 0; ; i++ {
		if i == 1 {
			started()
		}
		select {
		case <-done:
			return
		default:
		}
		page, err := s.ListUsers(ctx, projections.ListQuery{Limit: 100, After: fmt.Sprintf("u%04d", (i*37+r)%400)})
		if err != nil {
			t.Errorf("ListUsers: %v", err)
			return
		}
		id := fmt.Sprintf("u%04d", (i*13+r)%400)
		hist, err := s.History(ctx, id)
		if err != nil {
			t.Errorf("History: %v", err)
			return
		}
		if _, err := s.Failures(ctx); err != nil {
			t.Errorf("Failures: %v", err)
			return
		}
		pos, err := s.Positions(ctx)
		if err != nil {
			t.Errorf("Positions: %v", err)
			return
		}
		for name, cp := range pos {
			if cp < last[name] {
				t.Errorf("Positions()[%s] went back from %d to %d", name, last[name], cp)
			}
		}
		last = pos
		if !slices.IsSortedFunc(page.Users, func(a, b projections.User) int { return strings.Compare(a.ID, b.ID) }) {
			t.Errorf("ListUsers page not sorted by id")
		}
		for _, u := range page.Users {
			if u.Version > pos[projections.Users] {
				t.Errorf("user %s at version %d, ahead of the users checkpoint %d read after it", u.ID, u.Version, pos[projections.Users])
			}
		}
		for j, h := range hist {
			if h.Seq > pos[projections.Audit] || (j > 0 && h.Seq <= hist[j-1].Seq) {
				t.Errorf("History(%s) seqs %d after %d, audit checkpoint %d", id, h.Seq, hist[max(j-1, 0)].Seq, pos[projections.Audit])
			}
		}
	}
}
