package domain_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/userlife/userlife/domain"
	"github.com/userlife/userlife/events"
)

// TestDecideRevokeSession runs RevokeSession commands one after the other
// on a user, folding each event in: a session is revoked once, later
// revocations of it are unchanged, and every other session gets its own
// event.
func TestDecideRevokeSession(t *testing.T) {
	t.Parallel()
	registered := events.UserRegistered{Email: "ada@example.com"}
	confirmed := []events.Payload{registered, events.UserConfirmed{}}
	type step struct {
		sid  string
		want string // emits or unchanged
	}
	tests := []struct {
		name    string
		history []events.Payload
		steps   []step
	}{
		{"same session twice", confirmed, []step{{"s1", emits}, {"s1", unchanged}}},
		{"two sessions", confirmed, []step{{"s1", emits}, {"s2", emits}, {"s1", unchanged}, {"s2", unchanged}}},
		{"session ids are case-sensitive", confirmed, []step{{"s1", emits}, {"S1", emits}}},
		{"disabled user", append(confirmed, events.UserDisabled{RevokedBefore: revokedAt}), []step{{"s1", emits}, {"s1", unchanged}}},
		{"revoked before a disable and enable stays revoked",
			append(confirmed, events.SessionRevoked{SessionID: "s1"}, events.UserDisabled{RevokedBefore: revokedAt}, events.UserEnabled{}),
			[]step{{"s1", unchanged}, {"s2", emits}}},
		// revoked_before covers the session's tokens issued so far; the
		// session's own revocation also covers tokens issued later.
		{"after revoking every session", append(confirmed, events.SessionsRevoked{RevokedBefore: revokedAt}), []step{{"s1", emits}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hist := history(uid, tt.history...)
			u := domain.Fold(uid, hist)
			seq := uint64(len(hist))
			var emitted []events.Event
			for i, s := range tt.steps {
				td := &testDecider{now: t0.Add(time.Hour)}
				cmd := newCommand(events.CmdRevokeSession, uid, fmt.Sprintf("cmd-%d", i))
				cmd.(*events.RevokeSession).SessionID = s.sid
				d, err := td.decider().Decide(u, cmd)
				if err != nil {
					t.Fatalf("step %d (%s): Decide: %v, want %s", i, s.sid, err, s.want)
				}
				switch s.want {
				case unchanged:
					if !d.Unchanged || len(d.Events) != 0 || d.Message == "" {
						t.Fatalf("step %d (%s): decision %#v, want unchanged with a message", i, s.sid, d)
					}
					if td.clockUse != 0 || td.ids != 0 {
						t.Errorf("step %d (%s): unchanged read the clock %d times and drew %d ids, want 0", i, s.sid, td.clockUse, td.ids)
					}
					continue
				case emits:
					if d.Unchanged || len(d.Events) != 1 {
						t.Fatalf("step %d (%s): decision %#v, want one event", i, s.sid, d)
					}
				}
				e := d.Events[0]
				if got, want := e.Data, (events.SessionRevoked{SessionID: s.sid}); got != want {
					t.Errorf("step %d: data = %#v, want %#v", i, got, want)
				}
				seq++
				e.Seq = seq
				emitted = append(emitted, e)
				next := domain.Evolve(u, e)
				if next.State != u.State || !next.RevokedBefore.Equal(u.RevokedBefore) {
					t.Errorf("step %d: %s changed state %q→%q or revoked_before %v→%v, want neither",
						i, e.Type, u.State, next.State, u.RevokedBefore, next.RevokedBefore)
				}
				if !next.SessionRevoked(s.sid) {
					t.Errorf("step %d: SessionRevoked(%q) = false after its event", i, s.sid)
				}
				u = next
			}
			// What was decided on the folded user is what a fresh load sees.
			reloaded := domain.Fold(uid, append(hist, emitted...))
			for _, s := range tt.steps {
				if !reloaded.SessionRevoked(s.sid) {
					t.Errorf("reloaded SessionRevoked(%q) = false, want true", s.sid)
				}
			}
			if reloaded.SessionRevoked("never-revoked") {
				t.Error(`SessionRevoked("never-revoked") = true, want false`)
			}
		})
	}
}

// TestDecideRevokeSessionRedelivery: the same command_id is recognised
// even though the session it named is now revoked anyway.
func TestDecideRevokeSessionRedelivery(t *testing.T) {
	t.Parallel()
	u := domain.Fold(uid, history(uid, events.UserRegistered{Email: "ada@example.com"}, events.UserConfirmed{}, events.SessionRevoked{SessionID: "sid-1"}))
	td := &testDecider{now: t0.Add(time.Hour)}
	d, err := td.decider().Decide(u, newCommand(events.CmdRevokeSession, uid, "hist-3"))
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	if want := (domain.Decision{AppliedSeq: 3}); !reflect.DeepEqual(d, want) {
		t.Errorf("decision = %#v, want %#v", d, want)
	}
}

// incStore is memStore as an IncrementalStore, so Service caches users.
type incStore struct{ *memStore }

var _ domain.IncrementalStore = incStore{}

func (s incStore) LoadAfter(_ context.Context, userID string, after uint64) ([]events.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var evs []events.Event
	for _, e := range s.users[userID] {
		if e.Seq > after {
			evs = append(evs, e)
		}
	}
	return evs, nil
}

// TestServiceCachedUserSessions: goroutines deciding on one cached user
// each evolve their own copy of it. Run with -race: the revoked-session
// index of the cached user must not be shared with the copies (its
// command index neither).
func TestServiceCachedUserSessions(t *testing.T) {
	t.Parallel()
	store := incStore{newMemStore()}
	var ids atomic.Int64
	svc := &domain.Service{
		Store:  store,
		Emails: newMemEmails(),
		Decider: domain.Decider{
			Now:   func() time.Time { return t0 },
			NewID: func() string { return fmt.Sprintf("evt-%d", ids.Add(1)) },
		},
		Cache: domain.NewUserCache(8),
	}
	ctx := context.Background()
	handle := func(cmd events.Command) (events.Outcome, error) {
		for {
			out, err := svc.Handle(ctx, cmd)
			if !errors.Is(err, domain.ErrConflict) {
				return out, err
			}
		}
	}
	revoke := func(sid, cmdID string) events.Command {
		cmd := newCommand(events.CmdRevokeSession, "u-1", cmdID)
		cmd.(*events.RevokeSession).SessionID = sid
		return cmd
	}
	reg := newCommand(events.CmdRegisterUser, "u-1", "c-reg")
	for _, cmd := range []events.Command{reg, newCommand(events.CmdConfirmUser, "u-1", "c-confirm"), revoke("s0", "c-s0")} {
		if out, err := handle(cmd); err != nil || out.Status != events.StatusAccepted {
			t.Fatalf("Handle(%s) = %+v, %v; want accepted", cmd.CommandName(), out, err)
		}
	}

	// The cached user now holds a non-empty session index that every
	// goroutine below starts from.
	const n = 8
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			sid := fmt.Sprintf("s%d", i+1)
			out, err := handle(revoke(sid, "c-"+sid))
			if err != nil || out.Status != events.StatusAccepted {
				errs <- fmt.Errorf("revoke %s = %+v, %v; want accepted", sid, out, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	evs, _ := store.Load(ctx, "u-1")
	u := domain.Fold("u-1", evs)
	revoked := 0
	for _, e := range evs {
		if e.Type == events.TypeSessionRevoked {
			revoked++
		}
	}
	if got, want := revoked, n+1; got != want {
		t.Errorf("%d SessionRevoked events, want %d (one per session)", got, want)
	}
	for i := range n + 1 {
		sid := fmt.Sprintf("s%d", i)
		if !u.SessionRevoked(sid) {
			t.Errorf("SessionRevoked(%q) = false, want true", sid)
		}
		// Decided on the cached user: each session is revoked already.
		out, err := handle(revoke(sid, "again-"+sid))
		if err != nil || out.Status != events.StatusUnchanged {
			t.Errorf("revoke %s again = %+v, %v; want unchanged", sid, out, err)
		}
	}
}
