package admin

import (
	"sync"
	"testing"
	"time"
)

// A session lives for its TTL on the injected clock, and ends at sign-out.
func TestSessionsExpire(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := newSessions(12*time.Hour, clock)
	id, sess := s.create(Principal{"alice", RoleAdmin})
	if len(id) < 43 || len(sess.csrf) < 43 || id == sess.csrf {
		t.Fatalf("weak session id %q or CSRF token %q", id, sess.csrf)
	}
	advance(12*time.Hour - time.Second)
	if got, ok := s.get(id); !ok || got.principal.Actor != "alice" {
		t.Fatalf("session gone before its TTL: %+v %v", got, ok)
	}
	if !got(s, id).csrfValid(sess.csrf) || got(s, id).csrfValid("") || got(s, id).csrfValid(sess.csrf+"x") {
		t.Error("CSRF check")
	}
	advance(time.Second)
	if _, ok := s.get(id); ok {
		t.Error("session alive after its TTL")
	}
	id2, _ := s.create(Principal{"victor", RoleViewer})
	s.remove(id2)
	if _, ok := s.get(id2); ok {
		t.Error("session alive after sign-out")
	}
}

func got(s *sessions, id string) session {
	sess, _ := s.get(id)
	return sess
}
