package projectionstest

import (
	"fmt"
	"strings"

	"github.com/userlife/userlife/projections"
)

// checkPoison: a message that did not decode, an event for a user with no
// row and an event of an unknown type are recorded as failures and
// skipped; the projection moves on.
func checkPoison(h *harness) {
	s := newStream(h.t)
	s.register("u1", "a@x.com")
	s.undecodable()             // 2: both projections fail
	s.confirm("ghost")          // 3: users fails (no row); the audit records it
	s.unknown("u1")             // 4: both fail
	s.confirm("u1")             // 5
	s.register("u1", "b@x.com") // 6: users fails (already a row)
	s.disable("u1")             // 7
	h.apply(s.span(1, 3))
	h.apply(s.span(4, 7))
	h.matchesFold(s.msgs)
	want := map[string]bool{"users@2": true, "audit@2": true, "users@3": true, "users@4": true, "audit@4": true, "users@6": true}
	for _, f := range h.failures() {
		key := fmt.Sprintf("%s@%d", f.Projection, f.Seq)
		if !want[key] {
			h.t.Errorf("unexpected failure %s: %s", key, f.Error)
		}
		delete(want, key)
		if strings.TrimSpace(f.Error) == "" {
			h.t.Errorf("failure %s has no error text", key)
		}
	}
	for key := range want {
		h.t.Errorf("no failure recorded for %s", key)
	}
	if u, found := h.get("u1"); !found || u.State != "disabled" || u.Version != 7 {
		h.t.Errorf("GetUser(u1) = %+v (found %v), want disabled at version 7 past the failures", u, found)
	}
}

// checkPositions: each projection keeps its own checkpoint.
func checkPositions(h *harness) {
	s := newStream(h.t)
	for _, id := range []string{"u1", "u2", "u3", "u4", "u5"} {
		s.register(id, id+"@x.com")
	}
	if err := h.Users.Apply(h.ctx, s.span(1, 5)); err != nil {
		h.t.Fatalf("users.Apply: %v", err)
	}
	if err := h.Audit.Apply(h.ctx, s.span(1, 2)); err != nil {
		h.t.Fatalf("audit.Apply: %v", err)
	}
	pos := h.positions()
	if pos[projections.Users] != 5 || pos[projections.Audit] != 2 {
		h.t.Errorf("Positions() = %v, want map[audit:2 users:5]", pos)
	}
	if got := h.checkpoint(h.Audit); got != 2 {
		h.t.Errorf("audit.Checkpoint() = %d, want 2", got)
	}
	if got := len(h.history("u4")); got != 0 {
		h.t.Errorf("History(u4) has %d rows before the audit reached it, want 0", got)
	}
	if err := h.Audit.Apply(h.ctx, s.span(3, 5)); err != nil {
		h.t.Fatalf("audit.Apply: %v", err)
	}
	h.matchesFold(s.msgs)
}
