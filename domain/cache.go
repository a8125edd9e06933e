package domain

import (
	"context"
	"fmt"
	"maps"
	"sync"

	"github.com/userlife/userlife/events"
)

// IncrementalStore is an EventStore that can read only the events after a
// known version. With it, Service keeps recently used users in memory and
// reads just what was appended since, usually nothing.
type IncrementalStore interface {
	EventStore
	// LoadAfter returns the user's events with sequence > after.
	LoadAfter(ctx context.Context, userID string, after uint64) ([]events.Event, error)
}

// UserCache holds the latest known state of recently used users. A stale
// entry is harmless: the store's events after its version are folded in
// before deciding, and the append is guarded by the version anyway.
type UserCache struct {
	mu    sync.Mutex
	max   int
	users map[string]User
}

// NewUserCache keeps at most max users; past that an arbitrary one is
// dropped (Go map order), which is cheap and good enough for a cache whose
// misses only cost a full load.
// With max <= 0 it returns nil: no cache.
func NewUserCache(max int) *UserCache {
	if max <= 0 {
		return nil
	}
	return &UserCache{max: max, users: make(map[string]User, min(max, 1<<16))}
}

func (c *UserCache) get(id string) (User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, ok := c.users[id]
	return u, ok
}

// put stores u unless a newer version is already cached.
func (c *UserCache) put(u User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.users[u.ID]; ok && old.Version >= u.Version {
		return
	}
	if len(c.users) >= c.max {
		for id := range c.users {
			delete(c.users, id)
			break
		}
	}
	c.users[u.ID] = u
}

// current returns the user's state: from the cache without any read
// (fresh=false), or read in full from the store (fresh=true).
func (s *Service) current(ctx context.Context, userID string) (u User, fresh bool, err error) {
	if _, ok := s.Store.(IncrementalStore); ok && s.Cache != nil {
		if u, ok := s.Cache.get(userID); ok {
			return u, false, nil
		}
	}
	evs, err := s.Store.Load(ctx, userID)
	if err != nil {
		return User{}, false, fmt.Errorf("load user %s: %w", userID, err)
	}
	u = Fold(userID, evs)
	if s.Cache != nil && u.Version > 0 {
		s.Cache.put(u)
	}
	return u, true, nil
}

// refresh folds in the events appended after u's version.
func (s *Service) refresh(ctx context.Context, u User) (User, error) {
	inc, ok := s.Store.(IncrementalStore)
	if !ok {
		evs, err := s.Store.Load(ctx, u.ID)
		if err != nil {
			return User{}, fmt.Errorf("load user %s: %w", u.ID, err)
		}
		return Fold(u.ID, evs), nil
	}
	evs, err := inc.LoadAfter(ctx, u.ID, u.Version)
	if err != nil {
		return User{}, fmt.Errorf("load user %s after %d: %w", u.ID, u.Version, err)
	}
	if len(evs) == 0 {
		return u, nil
	}
	u = u.clone()
	for _, e := range evs {
		u = Evolve(u, e)
	}
	if s.Cache != nil {
		s.Cache.put(u)
	}
	return u, nil
}

// remember caches the state after a successful append.
func (s *Service) remember(u User, evs []events.Event, lastSeq uint64) {
	if s.Cache == nil {
		return
	}
	u = u.clone()
	for i, e := range evs {
		if i == len(evs)-1 {
			e.Seq = lastSeq
		}
		u = Evolve(u, e)
	}
	s.Cache.put(u)
}

// clone gives u its own command and session indexes: cached users are
// shared between goroutines, and Evolve writes to both.
func (u User) clone() User {
	u.commands = maps.Clone(u.commands)
	u.sessions = maps.Clone(u.sessions)
	u.purges = maps.Clone(u.purges)
	return u
}
