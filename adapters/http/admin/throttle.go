package admin

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Failed authentications are throttled per client address: a burst of
// failBurst, then one more per failEvery. Good credentials cost nothing,
// so a client that knows its token is never slowed down by its own
// success; one that guesses gets 429 until the bucket refills.
const (
	failBurst   = 10
	failEvery   = time.Second
	maxClients  = 10_000
	clientIdle  = 10 * time.Minute
	retryAfterS = 1
)

type failures struct {
	mu      sync.Mutex
	now     func() time.Time
	clients map[string]*client
}

type client struct {
	lim  *rate.Limiter
	seen time.Time
}

func newFailures(now func() time.Time) *failures {
	return &failures{now: now, clients: map[string]*client{}}
}

// clientAddr is the request's remote IP (without the port).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// blocked says whether addr has used up its failed attempts.
func (f *failures) blocked(addr string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.clients[addr]
	return ok && c.lim.TokensAt(f.now()) < 1
}

// fail records a failed authentication of addr.
func (f *failures) fail(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	c, ok := f.clients[addr]
	if !ok {
		if len(f.clients) >= maxClients {
			for k, v := range f.clients {
				if now.Sub(v.seen) > clientIdle {
					delete(f.clients, k)
				}
			}
		}
		c = &client{lim: rate.NewLimiter(rate.Every(failEvery), failBurst)}
		f.clients[addr] = c
	}
	c.seen = now
	c.lim.AllowN(now, 1)
}

// tooMany answers 429 to a client that failed too often.
func tooMany(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterS))
	fail(w, CodeTooManyRequests, "too many failed sign-in attempts from this address; wait and try again")
}
