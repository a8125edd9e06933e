package revocation

import (
	"hash/maphash"
	"maps"
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// The view is split into shards by a hash of the user id; each shard is an
// immutable map behind its own atomic.Pointer. An update copies one shard
// (about 1/4096 of the users) and swaps the pointer, so readers never lock
// and a million users do not make every update copy a million entries.
const (
	shardBits = 12
	numShards = 1 << shardBits
)

// Internal states: only the two that refuse on their own matter.
const (
	stateOther uint8 = iota
	stateDisabled
	stateDeleted
)

// user is the compact form of an Entry that Check reads: 24 bytes inline
// in the map slot, no pointer to follow.
type user struct {
	notBefore int64  // tokens with iat below are refused; MinInt64: none
	revision  uint64 // of the Entry, to ignore older updates
	state     uint8
	sessions  bool // the shard's sessions map lists this user
}

// shard is never changed once published.
type shard struct {
	users    map[string]user
	sessions map[string][]string // sorted revoked sids, only users that have some
}

// store holds the shards. Readers Load a shard pointer; writers hold mu.
type store struct {
	seed   maphash.Seed
	shards [numShards]atomic.Pointer[shard]
}

func (s *store) init() {
	s.seed = maphash.MakeSeed()
	empty := &shard{}
	for i := range s.shards {
		s.shards[i].Store(empty)
	}
}

func (s *store) index(userID string) int {
	return int(maphash.String(s.seed, userID) & (numShards - 1))
}

func (s *store) shard(userID string) *shard { return s.shards[s.index(userID)].Load() }

// Load replaces the whole view with a snapshot taken at revision and marks
// the Checker ready. Readers may see old and new shards side by side while
// it swaps them, never a half-built shard. When entries holds one user
// twice, the higher revision wins.
func (c *Checker) Load(entries []Entry, revision uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var sizes [numShards]int
	for i := range entries {
		sizes[c.store.index(entries[i].UserID)]++
	}
	fresh := make([]shard, numShards)
	for i := range fresh {
		fresh[i].users = make(map[string]user, sizes[i])
	}
	w := writer{touched: make(map[int]*draft, numShards)}
	for i := range fresh {
		w.touched[i] = &draft{shard: &fresh[i]}
	}
	for _, e := range entries {
		w.put(c.store.index(e.UserID), e)
		revision = max(revision, e.Revision)
	}
	for i := range fresh {
		c.store.shards[i].Store(&fresh[i])
	}
	c.revision.Store(revision)
	c.ready.Store(true)
	c.heardAt(c.sinceEpoch())
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
	w := writer{touched: make(map[int]*draft, min(len(entries), numShards))}
	var revision uint64
	for _, e := range entries {
		i := c.store.index(e.UserID)
		if _, ok := w.touched[i]; !ok {
			old := c.store.shards[i].Load()
			users := maps.Clone(old.users)
			if users == nil {
				users = make(map[string]user)
			}
			w.touched[i] = &draft{
				shard: &shard{users: users, sessions: old.sessions},
				// The sessions map is copied on its first change.
				sharedSessions: true,
			}
		}
		w.put(i, e)
		revision = max(revision, e.Revision)
	}
	for i, d := range w.touched {
		c.store.shards[i].Store(d.shard)
	}
	c.advance(revision)
	c.heardAt(c.sinceEpoch())
}

// writer builds new shards; they are published only once complete.
type writer struct {
	touched map[int]*draft
}

type draft struct {
	*shard
	sharedSessions bool
}

func (w *writer) put(i int, e Entry) {
	d := w.touched[i]
	old, had := d.users[e.UserID]
	if had && e.Revision < old.revision {
		return
	}
	u := user{notBefore: notBefore(e.RevokedBefore), revision: e.Revision, state: stateOf(e.State)}
	sids := sortedSessions(e.RevokedSessions)
	u.sessions = len(sids) > 0
	if u.sessions || old.sessions {
		if d.sharedSessions || d.sessions == nil {
			d.sessions = maps.Clone(d.sessions)
			if d.sessions == nil {
				d.sessions = make(map[string][]string)
			}
			d.sharedSessions = false
		}
		if u.sessions {
			d.sessions[e.UserID] = sids
		} else {
			delete(d.sessions, e.UserID)
		}
	}
	d.users[e.UserID] = u
}

// notBefore is revoked_before rounded up to a whole second: iat (whole
// seconds) below it is refused. A zero time revokes nothing.
func notBefore(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	sec := t.Unix()
	if t.Nanosecond() > 0 {
		sec++
	}
	return sec
}

func stateOf(s string) uint8 {
	switch s {
	case StateDisabled:
		return stateDisabled
	case StateDeleted:
		return stateDeleted
	}
	return stateOther
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
