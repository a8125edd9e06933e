package revocation

import (
	"maps"
	"slices"
)

// Load replaces the whole view with a snapshot taken at revision and marks
// the Checker ready. Readers may see old and new shards side by side while
// it swaps them, never a half-built shard. When entries holds one user
// twice, the higher revision wins.
func (c *Checker) Load(entries []Entry, revision uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	hashes := make([]uint64, len(entries))
	var sizes [numShards]int
	for i := range entries {
		hashes[i] = c.store.hash(entries[i].UserID)
		sizes[shardOf(hashes[i])]++
	}
	w := writer{store: &c.store, drafts: make(map[int]*draft, numShards)}
	for i, n := range sizes {
		if n > 0 {
			w.drafts[i] = &draft{table: newTable(n)}
		}
	}
	for i, e := range entries {
		w.put(hashes[i], e)
		revision = max(revision, e.Revision)
	}
	for i, n := range sizes {
		if n == 0 {
			c.store.shards[i].Store(emptyTable)
		}
	}
	w.publish()
	c.revision.Store(revision)
	c.ready.Store(true)
	c.heardAt(c.sinceEpoch())
	c.recheckLocked()
}

// Apply stores one updated entry, unless the view already holds the user
// at a higher revision (a late or repeated delivery).
func (c *Checker) Apply(e Entry) { c.ApplyBatch([]Entry{e}) }

// ApplyBatch stores several updated entries, copying each shard they touch
// once: the way to catch up on a backlog. Entries older than what the view
// holds for their user are ignored.
func (c *Checker) ApplyBatch(entries []Entry) {
	if len(entries) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	w := writer{store: &c.store, drafts: make(map[int]*draft, min(len(entries), numShards))}
	var revision uint64
	for _, e := range entries {
		w.put(c.store.hash(e.UserID), e)
		revision = max(revision, e.Revision)
	}
	w.publish()
	c.advance(revision)
	c.heardAt(c.sinceEpoch())
	c.recheckLocked()
}

// writer builds new shards; they are published only once complete.
type writer struct {
	store  *store
	drafts map[int]*draft
}

type draft struct {
	*table
	ownSessions bool // the sessions map is this draft's, not the published one's
}

func (w *writer) draft(shard int) *draft {
	d, ok := w.drafts[shard]
	if !ok {
		d = &draft{table: w.store.shards[shard].Load().clone()}
		w.drafts[shard] = d
	}
	return d
}

func (w *writer) publish() {
	for i, d := range w.drafts {
		w.store.shards[i].Store(d.table)
	}
}

func (w *writer) put(h uint64, e Entry) {
	d := w.draft(shardOf(h))
	i, found := d.probe(e.UserID, h)
	if found && e.Revision < d.revs[i] {
		return
	}
	if !found && (d.used+1)*4 > len(d.slots)*3 {
		d.table = d.grown(w.store)
		i, _ = d.probe(e.UserID, h)
	}
	sl := slot{key: e.UserID, tag: tagOf(h), notBefore: notBefore(e.RevokedBefore), state: stateOf(e.State)}
	sids := sortedSessions(e.RevokedSessions)
	sl.sessions = len(sids) > 0
	if sl.sessions || (found && d.slots[i].sessions) {
		if !d.ownSessions {
			d.sessions = maps.Clone(d.sessions)
			if d.sessions == nil {
				d.sessions = make(map[string][]string)
			}
			d.ownSessions = true
		}
		if sl.sessions {
			d.sessions[e.UserID] = sids
		} else {
			delete(d.sessions, e.UserID)
		}
	}
	if !found {
		d.used++
	}
	d.slots[i], d.revs[i] = sl, e.Revision
}

// sortedSessions returns a sorted copy without duplicates or empty ids;
// the caller's slice is neither kept nor changed.
func sortedSessions(sids []string) []string {
	if len(sids) == 0 {
		return nil
	}
	out := slices.Clone(sids)
	slices.Sort(out)
	out = slices.Compact(out)
	if out[0] == "" {
		out = out[1:]
	}
	if len(out) == 0 {
		return nil
	}
	return slices.Clip(out)
}
