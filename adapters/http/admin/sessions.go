package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"
)

// SessionCookie is the console's session cookie.
const SessionCookie = "userlife_session"

// CSRFHeader must carry the session's CSRF token on every mutation
// authenticated by the session cookie.
const CSRFHeader = "X-CSRF-Token"

// maxSessions bounds the memory sessions use; the oldest is dropped first.
const maxSessions = 10_000

type session struct {
	principal Principal
	csrf      string
	expires   time.Time
}

// sessions are the console's signed-in sessions, in memory, keyed by the
// SHA-256 of the cookie value.
type sessions struct {
	mu  sync.Mutex
	ttl time.Duration
	now func() time.Time
	m   map[[sha256.Size]byte]session
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, now: now, m: map[[sha256.Size]byte]session{}}
}

func randomToken() string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(32))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return b
}

// create starts a session and returns its cookie value and CSRF token.
func (s *sessions) create(p Principal) (id string, sess session) {
	id = randomToken()
	sess = session{principal: p, csrf: randomToken(), expires: s.now().Add(s.ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	if len(s.m) >= maxSessions {
		var oldest [sha256.Size]byte
		first := true
		for k, v := range s.m {
			if first || v.expires.Before(s.m[oldest].expires) {
				oldest, first = k, false
			}
		}
		delete(s.m, oldest)
	}
	s.m[sha256.Sum256([]byte(id))] = sess
	return id, sess
}

// get returns the live session of id.
func (s *sessions) get(id string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sha256.Sum256([]byte(id))
	sess, ok := s.m[k]
	if ok && !s.now().Before(sess.expires) {
		delete(s.m, k)
		return session{}, false
	}
	return sess, ok
}

func (s *sessions) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sha256.Sum256([]byte(id)))
}

func (s *sessions) expireLocked() {
	now := s.now()
	for k, v := range s.m {
		if !now.Before(v.expires) {
			delete(s.m, k)
		}
	}
}

// csrfValid compares the presented CSRF token in constant time.
func (sess session) csrfValid(presented string) bool {
	return presented != "" && subtle.ConstantTimeCompare([]byte(presented), []byte(sess.csrf)) == 1
}
