package nats_test

import (
	"errors"
	"testing"

	"github.com/userlife/userlife/domain"
	"github.com/userlife/userlife/events"
)

func TestEmailRegistryClaim(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	const email = "a@x.com"

	first, err := e.emails.Claim(ctx, email, "u-1")
	if err != nil {
		t.Fatalf("first Claim: %v", err)
	}
	if first.Owner != "u-1" || first.Revision == 0 {
		t.Errorf("first Claim = %+v, want owner u-1 and a revision", first)
	}
	second, err := e.emails.Claim(ctx, email, "u-2")
	if err != nil {
		t.Fatalf("second Claim: %v", err)
	}
	if second.Owner != "u-1" || second.Revision != first.Revision {
		t.Errorf("second Claim = %+v, want the existing claim (owner u-1, revision %d)", second, first.Revision)
	}
	if second.Age < 0 {
		t.Errorf("second Claim age = %v, want >= 0", second.Age)
	}
	again, err := e.emails.Claim(ctx, email, "u-1")
	if err != nil {
		t.Fatalf("Claim by the owner again: %v", err)
	}
	if again.Owner != "u-1" {
		t.Errorf("Claim by the owner again = %+v, want owner u-1", again)
	}
	other, err := e.emails.Claim(ctx, "b@x.com", "u-2")
	if err != nil {
		t.Fatalf("Claim of another email: %v", err)
	}
	if other.Owner != "u-2" {
		t.Errorf("Claim of another email = %+v, want owner u-2", other)
	}
}

func TestEmailRegistryTakeover(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	const email = "t@x.com"
	claim, err := e.emails.Claim(ctx, email, "u-old")
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}

	if err := e.emails.Takeover(ctx, email, "u-new", claim.Revision); err != nil {
		t.Fatalf("Takeover at the current revision: %v", err)
	}
	got, err := e.emails.Claim(ctx, email, "u-third")
	if err != nil {
		t.Fatalf("Claim after takeover: %v", err)
	}
	if got.Owner != "u-new" || got.Revision <= claim.Revision {
		t.Errorf("claim after takeover = %+v, want owner u-new at a revision > %d", got, claim.Revision)
	}

	// The revision moved with the takeover: the old one is stale now.
	err = e.emails.Takeover(ctx, email, "u-third", claim.Revision)
	if !errors.Is(err, domain.ErrConflict) {
		t.Errorf("Takeover at a stale revision error = %v, want domain.ErrConflict", err)
	}
	if got, _ := e.emails.Claim(ctx, email, "u-fourth"); got.Owner != "u-new" {
		t.Errorf("owner after a failed takeover = %q, want u-new", got.Owner)
	}
}

func TestEmailRegistryRelease(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	const email = "r@x.com"
	if _, err := e.emails.Claim(ctx, email, "u-owner"); err != nil {
		t.Fatalf("Claim: %v", err)
	}

	if err := e.emails.Release(ctx, email, "u-stranger"); err != nil {
		t.Fatalf("Release by a non-owner: %v", err)
	}
	if got, _ := e.emails.Claim(ctx, email, "u-stranger"); got.Owner != "u-owner" {
		t.Fatalf("owner after a non-owner's release = %q, want u-owner", got.Owner)
	}

	if err := e.emails.Release(ctx, email, "u-owner"); err != nil {
		t.Fatalf("Release by the owner: %v", err)
	}
	got, err := e.emails.Claim(ctx, email, "u-next")
	if err != nil {
		t.Fatalf("Claim after release: %v", err)
	}
	if got.Owner != "u-next" {
		t.Errorf("Claim after release = %+v, want owner u-next", got)
	}

	// Releasing an email nobody holds is not an error.
	if err := e.emails.Release(ctx, "nobody@x.com", "u-owner"); err != nil {
		t.Errorf("Release of an unclaimed email: %v", err)
	}
}

func TestServiceEmailUniqueness(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	svc := e.service()
	register := func(cmdID, userID, email string) *events.RegisterUser {
		return &events.RegisterUser{
			CommandMeta: events.CommandMeta{CommandID: cmdID, UserID: userID, Actor: "admin"},
			Email:       email,
		}
	}

	steps := []struct {
		name     string
		cmd      events.Command
		status   events.Status
		wantCode string
	}{
		{"register a@x.com", register("c-1", "u-1", "a@x.com"), events.StatusAccepted, ""},
		{"register A@X.COM for another user", register("c-2", "u-2", "A@X.COM"), events.StatusRejected, events.CodeEmailTaken},
		{"delete the first user", &events.DeleteUser{CommandMeta: events.CommandMeta{CommandID: "c-3", UserID: "u-1", Actor: "admin"}}, events.StatusAccepted, ""},
		{"register A@X.COM again", register("c-4", "u-2", "A@X.COM"), events.StatusAccepted, ""},
		{"register a@x.com for a third user", register("c-5", "u-3", "a@x.com"), events.StatusRejected, events.CodeEmailTaken},
	}
	for _, s := range steps {
		out, err := svc.Handle(ctx, s.cmd)
		if err != nil {
			t.Fatalf("%s: Handle error = %v", s.name, err)
		}
		if out.Status != s.status || out.Code != s.wantCode {
			t.Fatalf("%s: outcome = %+v, want status %q code %q", s.name, out, s.status, s.wantCode)
		}
	}
}
