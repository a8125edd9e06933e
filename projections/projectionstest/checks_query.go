package projectionstest

import (
	"fmt"
	"slices"

	"github.com/userlife/userlife/projections"
)

// lifecycle is one user's history and the state it ends in ("" deleted).
type lifecycle struct {
	id    string
	steps []func(s *stream, id string) projections.Message
	state string
}

var (
	confirm = func(s *stream, id string) projections.Message { return s.confirm(id) }
	disable = func(s *stream, id string) projections.Message { return s.disable(id) }
	enable  = func(s *stream, id string) projections.Message { return s.enable(id) }
	revoke  = func(s *stream, id string) projections.Message { return s.revoke(id) }
	del     = func(s *stream, id string) projections.Message { return s.delete(id) }
)

var lifecycles = []lifecycle{
	{"registered", nil, projections.StatePending},
	{"confirmed", fns(confirm), projections.StateConfirmed},
	{"disabled", fns(confirm, disable), projections.StateDisabled},
	{"enabled", fns(confirm, disable, enable), projections.StateConfirmed},
	{"disabled-twice", fns(confirm, disable, enable, disable), projections.StateDisabled},
	{"revoked-pending", fns(revoke), projections.StatePending},
	{"revoked-disabled", fns(confirm, disable, revoke, enable, revoke), projections.StateConfirmed},
	{"deleted-pending", fns(del), ""},
	{"deleted-confirmed", fns(confirm, revoke, del), ""},
	{"deleted-disabled", fns(confirm, disable, del), ""},
}

func fns(f ...func(s *stream, id string) projections.Message) []func(s *stream, id string) projections.Message {
	return f
}

// lifecycleStream interleaves the lifecycles: every user registers, then
// each takes its next step in turn. It returns the last message of each user.
func lifecycleStream(h *harness) (*stream, map[string]projections.Message) {
	s := newStream(h.t)
	last := map[string]projections.Message{}
	for _, l := range lifecycles {
		last[l.id] = s.register(l.id, l.id+"@example.com")
	}
	for step := 0; ; step++ {
		more := false
		for _, l := range lifecycles {
			if step < len(l.steps) {
				last[l.id] = l.steps[step](s, l.id)
				more = true
			}
		}
		if !more {
			return s, last
		}
	}
}

func checkLifecycles(h *harness) {
	s, last := lifecycleStream(h)
	h.applyInBatches(s.all(), 4)
	h.matchesFold(s.msgs)
	for _, l := range lifecycles {
		u, found := h.get(l.id)
		switch {
		case l.state == "" && found:
			h.t.Errorf("GetUser(%q) = %+v, want ErrNotFound after UserDeleted", l.id, u)
		case l.state == "":
		case !found:
			h.t.Errorf("GetUser(%q): not found, want a %s user", l.id, l.state)
		case u.State != l.state || u.Version != last[l.id].Seq || !u.UpdatedAt.Equal(last[l.id].Event.OccurredAt):
			h.t.Errorf("GetUser(%q) = {State: %s, Version: %d, UpdatedAt: %v}, want {%s, %d, %v}",
				l.id, u.State, u.Version, u.UpdatedAt, l.state, last[l.id].Seq, last[l.id].Event.OccurredAt)
		}
	}
}

// checkDeleteKeepsHistory: deleting removes the row but not the audit.
func checkDeleteKeepsHistory(h *harness) {
	s := newStream(h.t)
	s.register("gone", "gone@x.com")
	s.register("stays", "stays@x.com")
	s.confirm("gone")
	s.disable("gone")
	s.confirm("stays")
	s.delete("gone")
	h.apply(s.all())
	if u, found := h.get("gone"); found {
		h.t.Errorf("GetUser(gone) = %+v, want ErrNotFound", u)
	}
	if got, want := auditSeqs(h.history("gone")), []uint64{1, 3, 4, 6}; !slices.Equal(got, want) {
		h.t.Errorf("History(gone) at seqs %v, want %v", got, want)
	}
	h.matchesFold(s.msgs)
}

// population of fixed states for the list queries: n users per state plus
// deleted ones, ids "s-<state>-<i>".
func listStream(h *harness, n int) *stream {
	s := newStream(h.t)
	for i := range n {
		for _, st := range []string{"pending", "confirmed", "disabled", "deleted"} {
			id := fmt.Sprintf("s-%s-%03d", st, i)
			s.register(id, fmt.Sprintf("%s%d@x.com", st, i))
			switch st {
			case "confirmed":
				s.confirm(id)
			case "disabled":
				s.confirm(id)
				s.disable(id)
			case "deleted":
				s.delete(id)
			}
		}
	}
	return s
}

func checkListByState(h *harness) {
	const n = 5
	s := listStream(h, n)
	h.apply(s.all())
	f := foldOf(s.msgs)
	for _, state := range []string{projections.StatePending, projections.StateConfirmed, projections.StateDisabled, ""} {
		var want []string
		for id, u := range f.users.Rows {
			if state == "" || u.State == state {
				want = append(want, id)
			}
		}
		slices.Sort(want)
		got := ids(h.listAll(projections.ListQuery{State: state, Limit: 2}))
		if !slices.Equal(got, want) {
			h.t.Errorf("ListUsers(State %q) = %v, want %v", state, got, want)
		}
	}
}

func ids(us []projections.User) []string {
	out := []string{}
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}

// checkEmailPrefix: the prefix matches case-insensitively and literally
// (LIKE's '%' and '_' are plain characters), alone or with a state.
func checkEmailPrefix(h *harness) {
	s := newStream(h.t)
	for i, email := range []string{
		"ann@x.com", "Anna.K@x.com", "ANNE@y.org", "joann@x.com",
		"a_b@x.com", "axb@x.com", "100%@x.com", "1000@x.com", "ann@gone.com",
	} {
		s.register(fmt.Sprintf("e%d", i+1), email)
	}
	s.confirm("e2")
	s.delete("e9")
	h.apply(s.all())
	tests := []struct {
		q    projections.ListQuery
		want []string
	}{
		{projections.ListQuery{EmailPrefix: "ANN"}, []string{"e1", "e2", "e3"}},
		{projections.ListQuery{EmailPrefix: "ann@"}, []string{"e1"}},
		{projections.ListQuery{EmailPrefix: "Ann", State: projections.StateConfirmed}, []string{"e2"}},
		{projections.ListQuery{EmailPrefix: "Ann", State: projections.StatePending}, []string{"e1", "e3"}},
		{projections.ListQuery{EmailPrefix: "a_"}, []string{"e5"}},
		{projections.ListQuery{EmailPrefix: "100%"}, []string{"e7"}},
		{projections.ListQuery{EmailPrefix: "%"}, nil},
		{projections.ListQuery{EmailPrefix: "x.com"}, nil},
		{projections.ListQuery{EmailPrefix: "ann", Limit: 1}, []string{"e1", "e2", "e3"}},
	}
	for _, tt := range tests {
		got := ids(h.listAll(tt.q))
		if !slices.Equal(got, tt.want) {
			h.t.Errorf("ListUsers(%+v) = %v, want %v", tt.q, got, tt.want)
		}
	}
}

// checkPagination pages through 250 users with limits that divide the
// count and that do not; ids mix cases and '-'/'_' so order is byte order.
func checkPagination(h *harness) {
	p := newPopulation(h.t, 250)
	for range 250 {
		p.register()
	}
	h.apply(p.s.all())
	want := slices.Sorted(func(yield func(string) bool) {
		for id := range p.state {
			if !yield(id) {
				return
			}
		}
	})
	for _, limit := range []int{1, 7, 50, 250, 1000} {
		got := ids(h.listAll(projections.ListQuery{Limit: limit}))
		if !slices.Equal(got, want) {
			h.t.Errorf("pages of %d: ids %v\nwant %v", limit, got, want)
		}
	}
	if page := h.list(projections.ListQuery{}); len(page.Users) != 50 || page.Next != want[49] {
		h.t.Errorf("ListUsers(no limit) = %d users, Next %q; want the default 50, Next %q", len(page.Users), page.Next, want[49])
	}
	if page := h.list(projections.ListQuery{Limit: 250}); len(page.Users) != 250 || page.Next != "" {
		h.t.Errorf("ListUsers(Limit 250) of 250 users = %d users, Next %q; want all, no Next", len(page.Users), page.Next)
	}
	// The cursor is a position, not a row: it need not be an existing id.
	cursor := want[100][:len(want[100])-1]
	got := ids(h.listAll(projections.ListQuery{After: cursor, Limit: 30}))
	i, found := slices.BinarySearch(want, cursor)
	if found {
		i++
	}
	if !slices.Equal(got, want[i:]) {
		h.t.Errorf("ListUsers(After %q) = %d ids from %v, want %d from %q", cursor, len(got), first3(got), len(want[i:]), want[i])
	}
	if page := h.list(projections.ListQuery{After: want[len(want)-1]}); len(page.Users) != 0 || page.Next != "" {
		h.t.Errorf("ListUsers(After the last id) = %+v, want an empty last page", page)
	}
}

func first3(s []string) []string { return s[:min(3, len(s))] }

func checkInvalidQuery(h *harness) {
	for _, state := range []string{"deleted", "bogus", "PENDING"} {
		if _, err := h.Queries.ListUsers(h.ctx, projections.ListQuery{State: state}); err == nil {
			h.t.Errorf("ListUsers(State %q) error = nil, want an error", state)
		}
	}
}

// checkCopies: what the queries return is the caller's to change.
func checkCopies(h *harness) {
	s := newStream(h.t)
	s.register("u1", "a@x.com")
	s.register("u2", "b@x.com")
	h.apply(s.all())
	page := h.list(projections.ListQuery{})
	page.Users[0].Email = "changed"
	rows := h.history("u1")
	for i := range rows[0].Data {
		rows[0].Data[i] = ' '
	}
	rows[0].Actor = "changed"
	h.matchesFold(s.msgs)
}
