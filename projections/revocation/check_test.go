package revocation_test

import (
	"testing"
	"time"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections/revocation"
)

// loaded returns a ready Checker holding entries.
func loaded(t *testing.T, entries ...revocation.Entry) *revocation.Checker {
	t.Helper()
	c := revocation.NewChecker(revocation.Config{})
	c.Load(entries, 1)
	return c
}

// TestCheckRounding: JWT iat has whole seconds, so revoked_before is
// rounded up; a token from the revocation's own second is refused.
func TestCheckRounding(t *testing.T) {
	t.Parallel()
	noon := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	sec := noon.Unix()
	tests := []struct {
		rb   time.Duration // after 12:00:00
		iat  int64
		want revocation.Reason
	}{
		{0, sec - 1, revocation.ReasonRevoked},
		{0, sec, revocation.Allowed},
		{0, sec + 1, revocation.Allowed},
		{time.Millisecond, sec - 1, revocation.ReasonRevoked},
		{time.Millisecond, sec, revocation.ReasonRevoked},
		{time.Millisecond, sec + 1, revocation.Allowed},
		{999 * time.Millisecond, sec - 1, revocation.ReasonRevoked},
		{999 * time.Millisecond, sec, revocation.ReasonRevoked},
		{999 * time.Millisecond, sec + 1, revocation.Allowed},
		{time.Nanosecond, sec, revocation.ReasonRevoked},
		{999999999 * time.Nanosecond, sec + 1, revocation.Allowed},
	}
	for _, tt := range tests {
		rb := noon.Add(tt.rb)
		t.Run(rb.Format("15:04:05.000000000")+"/iat="+time.Unix(tt.iat, 0).UTC().Format("15:04:05"), func(t *testing.T) {
			t.Parallel()
			for _, zone := range []*time.Location{time.UTC, time.FixedZone("X", -5*3600)} {
				c := loaded(t, revocation.Entry{UserID: "u1", State: revocation.StateConfirmed, RevokedBefore: rb.In(zone), Revision: 1})
				if got := c.Check("u1", "", tt.iat); got != tt.want {
					t.Errorf("%s: Check = %v, want %v", zone, got, tt.want)
				}
			}
		})
	}
}

// TestCheckLifecycle folds events with Reduce, as the projection does, and
// checks old and new tokens after each step.
func TestCheckLifecycle(t *testing.T) {
	t.Parallel()
	disabledAt := t0.Add(500 * time.Millisecond)
	before, sameSecond, after := t0.Unix()-60, t0.Unix(), t0.Unix()+60
	tests := []struct {
		name   string
		events []events.Payload
		iat    int64
		want   revocation.Reason
	}{
		{"registered", []events.Payload{events.UserRegistered{}}, before, revocation.Allowed},
		{"confirmed", []events.Payload{events.UserRegistered{}, events.UserConfirmed{}}, before, revocation.Allowed},
		{"disabled, old token", []events.Payload{events.UserRegistered{}, events.UserDisabled{RevokedBefore: disabledAt}}, before, revocation.ReasonDisabled},
		{"disabled, new token", []events.Payload{events.UserRegistered{}, events.UserDisabled{RevokedBefore: disabledAt}}, after, revocation.ReasonDisabled},
		{"enabled after disable, old token", []events.Payload{events.UserRegistered{}, events.UserDisabled{RevokedBefore: disabledAt}, events.UserEnabled{}}, before, revocation.ReasonRevoked},
		{"enabled after disable, same second", []events.Payload{events.UserRegistered{}, events.UserDisabled{RevokedBefore: disabledAt}, events.UserEnabled{}}, sameSecond, revocation.ReasonRevoked},
		{"enabled after disable, new token", []events.Payload{events.UserRegistered{}, events.UserDisabled{RevokedBefore: disabledAt}, events.UserEnabled{}}, after, revocation.Allowed},
		{"deleted, old token", []events.Payload{events.UserRegistered{}, events.UserDeleted{RevokedBefore: disabledAt}}, before, revocation.ReasonDeleted},
		{"deleted, new token", []events.Payload{events.UserRegistered{}, events.UserDeleted{RevokedBefore: disabledAt}}, after, revocation.ReasonDeleted},
		{"sessions revoked, old token", []events.Payload{events.UserRegistered{}, events.SessionsRevoked{RevokedBefore: disabledAt}}, before, revocation.ReasonRevoked},
		{"sessions revoked, new token", []events.Payload{events.UserRegistered{}, events.SessionsRevoked{RevokedBefore: disabledAt}}, after, revocation.Allowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cur *revocation.Entry
			for i, p := range tt.events {
				next, err := revocation.Reduce(cur, ev(uint64(i+1), p))
				if err != nil {
					t.Fatal(err)
				}
				cur = next
			}
			// Through Load and through Apply, the same answer.
			c := loaded(t, *cur)
			if got := c.Check("u1", "", tt.iat); got != tt.want {
				t.Errorf("after Load: Check = %v, want %v", got, tt.want)
			}
			c = loaded(t)
			c.Apply(*cur)
			if got := c.Check("u1", "", tt.iat); got != tt.want {
				t.Errorf("after Apply: Check = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCheckSessions(t *testing.T) {
	t.Parallel()
	c := loaded(t,
		revocation.Entry{UserID: "u1", State: revocation.StateConfirmed, RevokedSessions: []string{"s1", "s3"}, Revision: 1},
		revocation.Entry{UserID: "u2", State: revocation.StateConfirmed, Revision: 1},
	)
	iat := t0.Unix()
	tests := []struct {
		sub, sid string
		want     revocation.Reason
	}{
		{"u1", "s1", revocation.ReasonSessionRevoked},
		{"u1", "s3", revocation.ReasonSessionRevoked},
		{"u1", "s2", revocation.Allowed},
		{"u1", "", revocation.Allowed},
		{"u1", "s", revocation.Allowed},
		{"u1", "s1x", revocation.Allowed},
		{"u2", "s1", revocation.Allowed},
		{"u3", "s1", revocation.Allowed},
	}
	for _, tt := range tests {
		if got := c.Check(tt.sub, tt.sid, iat); got != tt.want {
			t.Errorf("Check(%q, %q) = %v, want %v", tt.sub, tt.sid, got, tt.want)
		}
	}
	// A later entry without the sessions lets them in again; the
	// projection never writes one, but the view follows what it is given.
	c.Apply(revocation.Entry{UserID: "u1", State: revocation.StateConfirmed, Revision: 2})
	if got := c.Check("u1", "s1", iat); got != revocation.Allowed {
		t.Errorf("after the sessions went: Check = %v, want Allowed", got)
	}
}

func TestCheckUnknownUser(t *testing.T) {
	t.Parallel()
	c := loaded(t, revocation.Entry{UserID: "u1", State: revocation.StateDisabled, Revision: 1})
	if got := c.Check("nobody", "s1", 0); got != revocation.Allowed {
		t.Errorf("Check(unknown user) = %v, want Allowed", got)
	}
	if got := c.Check("", "", 0); got != revocation.Allowed {
		t.Errorf("Check(empty sub) = %v, want Allowed", got)
	}
}

func TestCheckNotReady(t *testing.T) {
	t.Parallel()
	tests := []struct {
		failOpen bool
		want     revocation.Reason
	}{
		{false, revocation.ReasonNotReady},
		{true, revocation.Allowed},
	}
	for _, tt := range tests {
		c := revocation.NewChecker(revocation.Config{FailOpen: tt.failOpen})
		if c.Ready() {
			t.Error("Ready before Load")
		}
		// Updates before the snapshot do not make the view ready.
		c.Apply(revocation.Entry{UserID: "u1", State: revocation.StateConfirmed, Revision: 3})
		if got := c.Check("u1", "", 0); got != tt.want {
			t.Errorf("FailOpen=%v: Check before Load = %v, want %v", tt.failOpen, got, tt.want)
		}
		c.Load(nil, 0)
		if !c.Ready() {
			t.Error("not Ready after Load")
		}
		if got := c.Check("u1", "", 0); got != revocation.Allowed {
			t.Errorf("FailOpen=%v: Check after Load = %v, want Allowed", tt.failOpen, got)
		}
	}
}
