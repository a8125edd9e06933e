package nats_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/domain"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// randomHistories decides random commands for users through the domain
// decider and appends the events: valid lives, interleaved, with a clock
// that stays near real time and sometimes does not move between events.
func randomHistories(t *testing.T, e *env, rng *rand.Rand, users, commands int) []events.Event {
	t.Helper()
	now := time.Now().UTC()
	d := domain.Decider{
		Now:   func() time.Time { now = now.Add(time.Duration(rng.IntN(3)) * 50 * time.Microsecond); return now },
		NewID: func() string { return fmt.Sprintf("ev-%d", rng.Uint64()) },
	}
	state := map[string]domain.User{}
	var all []events.Event
	for i := range commands {
		u := fmt.Sprintf("p-%02d", rng.IntN(users))
		m := events.CommandMeta{CommandID: fmt.Sprintf("c-%d", i), UserID: u, Actor: "prop"}
		var c events.Command
		switch rng.IntN(7) {
		case 0:
			c = &events.RegisterUser{CommandMeta: m, Email: u + "@example.com"}
		case 1:
			c = &events.ConfirmUser{CommandMeta: m}
		case 2:
			c = &events.DisableUser{CommandMeta: m}
		case 3:
			c = &events.EnableUser{CommandMeta: m}
		case 4:
			if rng.IntN(4) > 0 {
				continue // deletions end lives: keep them rarer
			}
			c = &events.DeleteUser{CommandMeta: m}
		case 5:
			c = &events.RevokeSessions{CommandMeta: m}
		default:
			c = &events.RevokeSession{CommandMeta: m, SessionID: fmt.Sprintf("s-%d", i)}
		}
		dec, err := d.Decide(state[u], c)
		if err != nil || len(dec.Events) == 0 {
			continue // refused or unchanged: no event, as in the service
		}
		seq := appendOK(t, e.store, u, state[u].Version, dec.Events...)
		for _, ev := range dec.Events {
			ev.Seq = seq
			state[u] = domain.Evolve(state[u], ev)
			all = append(all, ev)
		}
	}
	return all
}

// foldAt is the definition: the domain's fold of the user's events that
// occurred at or before at, stopping at the first later one.
func foldAt(evs []events.Event, userID string, at time.Time) domain.User {
	u := domain.User{}
	for _, e := range evs {
		if e.UserID != userID {
			continue
		}
		if e.OccurredAt.After(at) {
			break
		}
		u = domain.Evolve(u, e)
	}
	return u
}

// TestStateAtIsTheFoldUpToThatTime: over random histories (several seeds),
// StateAt and ListAt agree with the domain fold of the events up to T for
// every user and for instants on, just before and just after every event
// (a deleted user's email reads erased at every time: its data key is
// gone).
func TestStateAtIsTheFoldUpToThatTime(t *testing.T) {
	t.Parallel()
	for seed := range uint64(4) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			rng := rand.New(rand.NewPCG(seed, 42))
			evs := randomHistories(t, e, rng, 8, 160)
			if len(evs) < 30 {
				t.Fatalf("seed %d made only %d events", seed, len(evs))
			}
			l := natsadapter.NewAuditLog(e.js, natsadapter.AuditConfig{})
			ctx := testContext(t)
			times := []time.Time{evs[0].OccurredAt.Add(-time.Second), evs[len(evs)-1].OccurredAt.Add(time.Second)}
			for range 8 {
				at := evs[rng.IntN(len(evs))].OccurredAt
				times = append(times, at, at.Add(-time.Nanosecond), at.Add(time.Nanosecond))
			}
			for _, at := range times {
				byState := map[string][]string{}
				for i := range 8 {
					id := fmt.Sprintf("p-%02d", i)
					want := foldAt(evs, id, at)
					if foldAt(evs, id, time.Now().Add(time.Hour)).State == domain.StateDeleted && want.State != domain.StateNone {
						// Deleting a user destroyed its data key: its email
						// reads erased at every time (crypto-shredding).
						want.Email = events.Erased
					}
					got, err := l.StateAt(ctx, id, at)
					if want.State == domain.StateNone {
						var nf *projections.NotFoundAtError
						if !errors.As(err, &nf) || !errors.Is(err, projections.ErrNotFound) {
							t.Fatalf("StateAt(%s, %s) = %+v, %v; want not found", id, at, got.User, err)
						}
						continue
					}
					if err != nil {
						t.Fatalf("StateAt(%s, %s): %v", id, at, err)
					}
					byState[string(want.State)] = append(byState[string(want.State)], id)
					u := got.User
					if u.State != string(want.State) || u.Email != want.Email || u.Version != want.Version ||
						!u.RevokedBefore.Equal(want.RevokedBefore) || !u.RegisteredAt.Equal(want.RegisteredAt) ||
						!u.ConfirmedAt.Equal(want.ConfirmedAt) || !u.DisabledAt.Equal(want.DisabledAt) || !u.DeletedAt.Equal(want.DeletedAt) {
						t.Fatalf("StateAt(%s, %s) = %+v, want the fold %+v", id, at, u, want)
					}
					if n := len(got.History); n == 0 || got.History[n-1].Seq != want.Version || got.History[n-1].OccurredAt.After(at) {
						t.Fatalf("StateAt(%s, %s): history %+v does not end at version %d", id, at, got.History, want.Version)
					}
					if len(got.Failures) > 0 {
						t.Fatalf("StateAt(%s, %s): failures %v", id, at, got.Failures)
					}
				}
				for _, st := range []string{projections.StatePending, projections.StateConfirmed, projections.StateDisabled, projections.StateDeleted} {
					users, err := l.ListAt(ctx, st, at)
					if err != nil {
						t.Fatalf("ListAt(%s, %s): %v", st, at, err)
					}
					var got []string
					for _, u := range users {
						got = append(got, u.ID)
					}
					if !slices.Equal(got, byState[st]) {
						t.Fatalf("ListAt(%s, %s) = %v, want %v", st, at, got, byState[st])
					}
				}
			}
		})
	}
}

// TestStateAtErrors: bad ids and states are refused; a user asked about
// before its registration says when it was registered.
func TestStateAtErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendOK(t, e.store, "ann", 0, registered("ann", "c-1", "ann@example.com"))
	l := natsadapter.NewAuditLog(e.js, natsadapter.AuditConfig{})
	ctx := testContext(t)
	if _, err := l.StateAt(ctx, "a.b", baseTime); err == nil {
		t.Error("StateAt with an invalid id: no error")
	}
	_, err := l.StateAt(ctx, "ann", baseTime.Add(-time.Hour))
	var nf *projections.NotFoundAtError
	if !errors.As(err, &nf) || !nf.RegisteredAt.Equal(baseTime) {
		t.Errorf("StateAt before registration: %v, want not found with the registration time", err)
	}
	if _, err := l.StateAt(ctx, "nobody", baseTime); !errors.Is(err, projections.ErrNotFound) || err.Error() != "no user nobody" {
		t.Errorf("StateAt of an unknown user: %v", err)
	}
	got, err := l.StateAt(ctx, "ann", baseTime)
	if err != nil || got.User.State != projections.StatePending || got.User.Email != "ann@example.com" {
		t.Errorf("StateAt at registration = %+v, %v", got.User, err)
	}
	if _, err := l.ListAt(ctx, "gone", baseTime); err == nil {
		t.Error("ListAt with an unknown state: no error")
	}
}
