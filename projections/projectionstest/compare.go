package projectionstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/userlife/userlife/projections"
)

// fold is what the stores must hold after applying ms: the in-memory
// reference folds of the projections package.
type fold struct {
	users *projections.UsersTable
	audit *projections.AuditLog
	ids   []string // every user id the messages name, sorted
}

func foldOf(ms []projections.Message) fold {
	f := fold{users: projections.NewUsersTable(), audit: &projections.AuditLog{}}
	seen := map[string]bool{}
	for _, m := range ms {
		f.users.Apply(m, time.Time{})
		f.audit.Apply(m, time.Time{})
		if m.Err == nil && !seen[m.Event.UserID] {
			seen[m.Event.UserID] = true
			f.ids = append(f.ids, m.Event.UserID)
		}
	}
	slices.Sort(f.ids)
	return f
}

// matchesFold checks everything the queries can tell about the stores
// against the fold of ms, the messages applied so far.
func (h *harness) matchesFold(ms []projections.Message) {
	h.t.Helper()
	f := foldOf(ms)
	last := uint64(0)
	if len(ms) > 0 {
		last = ms[len(ms)-1].Seq
	}
	for _, p := range h.projections() {
		if got := h.checkpoint(p); got != last {
			h.t.Errorf("%s.Checkpoint() = %d, want %d", p.Name(), got, last)
		}
	}
	pos := h.positions()
	for _, name := range projections.Names() {
		if got := pos[name]; got != last {
			h.t.Errorf("Positions()[%q] = %d, want %d (all: %v)", name, got, last, pos)
		}
	}

	listed := h.listAll(projections.ListQuery{Limit: 1000})
	if len(listed) != len(f.users.Rows) {
		h.t.Errorf("ListUsers lists %d users, want %d", len(listed), len(f.users.Rows))
	}
	for _, got := range listed {
		if want, ok := f.users.Rows[got.ID]; !ok {
			h.t.Errorf("ListUsers lists user %q, who has no row in the fold (deleted or never registered)", got.ID)
		} else if d := diffUser(got, want); d != "" {
			h.t.Errorf("ListUsers row %q: %s", got.ID, d)
		}
	}
	for _, id := range f.ids {
		want, live := f.users.Rows[id]
		got, found := h.get(id)
		switch {
		case found != live:
			h.t.Errorf("GetUser(%q) found = %v, want %v", id, found, live)
		case live:
			if d := diffUser(got, want); d != "" {
				h.t.Errorf("GetUser(%q): %s", id, d)
			}
		}
		h.historyMatches(id, f.audit.Rows)
	}
	h.failuresMatch(append(slices.Clone(f.users.Failures), f.audit.Failures...))
}

// historyMatches checks History(id) against the user's rows of the fold.
func (h *harness) historyMatches(id string, all []projections.AuditEvent) {
	h.t.Helper()
	var want []projections.AuditEvent
	for _, r := range all {
		if r.UserID == id {
			want = append(want, r)
		}
	}
	got := h.history(id)
	if len(got) != len(want) {
		h.t.Errorf("History(%q) has %d rows (seqs %v), want %d (seqs %v)", id, len(got), auditSeqs(got), len(want), auditSeqs(want))
		return
	}
	for i := range want {
		if d := diffAudit(got[i], want[i]); d != "" {
			h.t.Errorf("History(%q)[%d]: %s", id, i, d)
		}
	}
}

func auditSeqs(rows []projections.AuditEvent) []uint64 {
	out := make([]uint64, len(rows))
	for i, r := range rows {
		out[i] = r.Seq
	}
	return out
}

// failuresMatch compares recorded failures with the fold's, in any order.
// The stored error text must contain the reducer's (a store may add
// context); At is the store's clock and is not compared.
func (h *harness) failuresMatch(want []projections.Failure) {
	h.t.Helper()
	got := h.failures()
	key := func(f projections.Failure) string { return fmt.Sprintf("%s@%d", f.Projection, f.Seq) }
	byKey := func(fs []projections.Failure) (map[string]projections.Failure, []string) {
		m := map[string]projections.Failure{}
		var keys []string
		for _, f := range fs {
			m[key(f)] = f
			keys = append(keys, key(f))
		}
		slices.Sort(keys)
		return m, keys
	}
	gotBy, gotKeys := byKey(got)
	wantBy, wantKeys := byKey(want)
	if !slices.Equal(gotKeys, wantKeys) {
		h.t.Errorf("Failures() at %v, want %v", gotKeys, wantKeys)
		return
	}
	for k, w := range wantBy {
		g := gotBy[k]
		if !strings.Contains(g.Error, w.Error) || g.Subject != w.Subject || !bytes.Equal(g.Data, w.Data) || g.At.IsZero() {
			h.t.Errorf("failure %s = {Error: %q, Subject: %q, Data: %q, At: %v}, want {Error containing %q, Subject: %q, Data: %q, At set}",
				k, g.Error, g.Subject, g.Data, g.At, w.Error, w.Subject, w.Data)
		}
	}
}

// diffUser compares rows field by field, times by instant (a database may
// return another location).
func diffUser(got, want projections.User) string {
	same := got.ID == want.ID && got.Email == want.Email && got.State == want.State &&
		got.RegisteredAt.Equal(want.RegisteredAt) && got.ConfirmedAt.Equal(want.ConfirmedAt) &&
		got.DisabledAt.Equal(want.DisabledAt) && got.DeletedAt.Equal(want.DeletedAt) &&
		got.RevokedBefore.Equal(want.RevokedBefore) && got.Version == want.Version && got.UpdatedAt.Equal(want.UpdatedAt)
	if same {
		return ""
	}
	return fmt.Sprintf("\n got %+v\nwant %+v", got, want)
}

// diffAudit compares audit rows; Data by meaning, since a database may
// store JSON in another layout (jsonb).
func diffAudit(got, want projections.AuditEvent) string {
	g, w := got, want
	g.Data, w.Data = nil, nil
	same := g.Seq == w.Seq && g.EventID == w.EventID && g.Type == w.Type && g.UserID == w.UserID &&
		g.Actor == w.Actor && g.Reason == w.Reason && g.CommandID == w.CommandID &&
		g.CorrelationID == w.CorrelationID && g.OccurredAt.Equal(w.OccurredAt) && sameJSON(got.Data, want.Data)
	if same {
		return ""
	}
	return fmt.Sprintf("\n got %+v data %s\nwant %+v data %s", g, got.Data, w, want.Data)
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}
