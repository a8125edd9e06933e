package projectionstest

import (
	"context"
	"errors"
	"testing"

	"github.com/userlife/userlife/projections"
)

// harness is one subtest's fresh stores.
type harness struct {
	t   *testing.T
	ctx context.Context
	Stores
}

func newHarness(t *testing.T, s Stores) *harness {
	t.Helper()
	if s.Users == nil || s.Audit == nil || s.Queries == nil {
		t.Fatalf("newStores returned %+v: want Users, Audit and Queries set", s)
	}
	return &harness{t: t, ctx: t.Context(), Stores: s}
}

func (h *harness) projections() []projections.Projection {
	return []projections.Projection{h.Users, h.Audit}
}

// apply applies b to both projections and fails the test on an error.
func (h *harness) apply(b projections.Batch) {
	h.t.Helper()
	for _, p := range h.projections() {
		if err := p.Apply(h.ctx, b); err != nil {
			h.t.Fatalf("%s.Apply(seqs %d..%d): %v", p.Name(), first(b), b.Last(), err)
		}
	}
}

// applyInBatches applies b to both projections in batches of size n.
func (h *harness) applyInBatches(b projections.Batch, n int) {
	h.t.Helper()
	for len(b) > 0 {
		k := min(n, len(b))
		h.apply(b[:k])
		b = b[k:]
	}
}

func first(b projections.Batch) uint64 {
	if len(b) == 0 {
		return 0
	}
	return b[0].Seq
}

func (h *harness) checkpoint(p projections.Projection) uint64 {
	h.t.Helper()
	cp, err := p.Checkpoint(h.ctx)
	if err != nil {
		h.t.Fatalf("%s.Checkpoint: %v", p.Name(), err)
	}
	return cp
}

func (h *harness) positions() map[string]uint64 {
	h.t.Helper()
	pos, err := h.Queries.Positions(h.ctx)
	if err != nil {
		h.t.Fatalf("Positions: %v", err)
	}
	return pos
}

func (h *harness) list(q projections.ListQuery) projections.UserPage {
	h.t.Helper()
	page, err := h.Queries.ListUsers(h.ctx, q)
	if err != nil {
		h.t.Fatalf("ListUsers(%+v): %v", q, err)
	}
	return page
}

// listAll follows the Next cursors from the first page and checks that
// the pages are in ascending id order without overlap and that only the
// last page has no Next.
func (h *harness) listAll(q projections.ListQuery) []projections.User {
	h.t.Helper()
	var all []projections.User
	for pages := 0; ; pages++ {
		if pages > 100000 {
			h.t.Fatalf("ListUsers(%+v): the Next cursors never end", q)
		}
		page := h.list(q)
		if q.Limit > 0 && len(page.Users) > q.Limit {
			h.t.Errorf("ListUsers(%+v) returned %d users, more than the limit", q, len(page.Users))
		}
		if page.Next != "" && len(page.Users) == 0 {
			h.t.Fatalf("ListUsers(%+v) returned an empty page with Next %q", q, page.Next)
		}
		for _, u := range page.Users {
			if n := len(all); n > 0 && all[n-1].ID >= u.ID {
				h.t.Fatalf("ListUsers(%+v): id %q after %q; want ids strictly ascending (byte order) across pages", q, u.ID, all[n-1].ID)
			}
			all = append(all, u)
		}
		if page.Next == "" {
			return all
		}
		if last := page.Users[len(page.Users)-1].ID; page.Next != last {
			h.t.Errorf("ListUsers(%+v).Next = %q, want the page's last id %q", q, page.Next, last)
		}
		q.After = page.Next
	}
}

func (h *harness) get(id string) (projections.User, bool) {
	h.t.Helper()
	u, err := h.Queries.GetUser(h.ctx, id)
	if errors.Is(err, projections.ErrNotFound) {
		return u, false
	}
	if err != nil {
		h.t.Fatalf("GetUser(%q): %v", id, err)
	}
	return u, true
}

func (h *harness) history(id string) []projections.AuditEvent {
	h.t.Helper()
	rows, err := h.Queries.History(h.ctx, id)
	if err != nil {
		h.t.Fatalf("History(%q): %v", id, err)
	}
	return rows
}

func (h *harness) failures() []projections.Failure {
	h.t.Helper()
	fs, err := h.Queries.Failures(h.ctx)
	if err != nil {
		h.t.Fatalf("Failures: %v", err)
	}
	return fs
}
