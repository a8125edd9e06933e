package admin

import (
	"sync"
	"testing"
	"time"
)

// An address is blocked after failBurst failures and gets one attempt
// back per failEvery; other addresses are not affected.
func TestFailedAuthThrottle(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := newFailures(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	for i := range failBurst {
		if f.blocked("192.0.2.1") {
			t.Fatalf("blocked after %d failures", i)
		}
		f.fail("192.0.2.1")
	}
	if !f.blocked("192.0.2.1") {
		t.Fatalf("not blocked after %d failures", failBurst)
	}
	if f.blocked("192.0.2.2") {
		t.Error("another address is blocked")
	}
	mu.Lock()
	now = now.Add(failEvery)
	mu.Unlock()
	if f.blocked("192.0.2.1") {
		t.Error("still blocked after the bucket refilled by one")
	}
	f.fail("192.0.2.1")
	if !f.blocked("192.0.2.1") {
		t.Error("not blocked again after one more failure")
	}
}
