package nats_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/userlife/userlife/domain"
	"github.com/userlife/userlife/events"
)

// cachedService is a service with its own user cache, like one of several
// serve processes sharing the event stream.
func (e *env) cachedService() *domain.Service {
	svc := e.service()
	svc.Cache = domain.NewUserCache(1000)
	return svc
}

// handleRetrying handles cmd, deciding again on conflicts as the intake's
// Retry middleware does.
func handleRetrying(t *testing.T, svc *domain.Service, cmd events.Command) events.Outcome {
	t.Helper()
	for range 20 {
		out, err := svc.Handle(testContext(t), cmd)
		if errors.Is(err, domain.ErrConflict) {
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", cmd.CommandName(), err)
		}
		return out
	}
	t.Fatalf("%s: still conflicting", cmd.CommandName())
	return events.Outcome{}
}

// Two services with their own caches act on one user: a decision taken on
// a stale cache is never wrong. Appending decisions are caught by the
// version guard and decided again; unchanged or rejected ones are re-taken
// on the refreshed state.
func TestServiceCacheStaleness(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.cachedService(), e.cachedService()
	n := 0
	cmd := func(c events.Command) events.Command {
		n++
		c.Meta().CommandID = fmt.Sprintf("c-%d", n)
		c.Meta().UserID = "u-shared"
		c.Meta().Actor = "admin"
		return c
	}
	step := func(svc *domain.Service, name string, c events.Command, want events.Status) {
		t.Helper()
		out := handleRetrying(t, svc, cmd(c))
		if out.Status != want {
			t.Fatalf("%s: %s = %s (%s %s); want %s", name, c.CommandName(), out.Status, out.Code, out.Message, want)
		}
	}
	step(a, "A registers", &events.RegisterUser{Email: "shared@x.com"}, events.StatusAccepted)
	step(b, "B confirms (B loads fresh)", &events.ConfirmUser{}, events.StatusAccepted)
	// A's cache says pending; the user is confirmed.
	step(a, "A disables on a stale pending state", &events.DisableUser{}, events.StatusAccepted)
	// B's cache says confirmed; the user is disabled.
	step(b, "B enables on a stale confirmed state", &events.EnableUser{}, events.StatusAccepted)
	// A's cache says disabled; the user is enabled again.
	step(a, "A disables on a stale disabled state", &events.DisableUser{}, events.StatusAccepted)
	step(b, "B deletes", &events.DeleteUser{}, events.StatusAccepted)
	// A's cache says disabled; the user is deleted.
	step(a, "A revokes sessions of a deleted user", &events.RevokeSessions{}, events.StatusRejected)

	evs, err := e.store.Load(testContext(t), "u-shared")
	if err != nil {
		t.Fatal(err)
	}
	var got []events.Type
	for _, ev := range evs {
		got = append(got, ev.Type)
	}
	want := []events.Type{events.TypeUserRegistered, events.TypeUserConfirmed, events.TypeUserDisabled,
		events.TypeUserEnabled, events.TypeUserDisabled, events.TypeUserDeleted}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("history = %v; want %v", got, want)
	}
}
