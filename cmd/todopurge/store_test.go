package main

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/userlife/userlife/adapters/postgres/pgtest"
)

// TestPurgeConcurrentDeliveries: two deliveries of one UserDeleted handled
// at once (a redelivery after AckWait while the first is still running)
// purge once and report the same count; a later one reports it again.
func TestPurgeConcurrentDeliveries(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	s, err := openStore(ctx, pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	again, err := openStore(ctx, s.pool.Config().ConnString())
	if err != nil {
		t.Fatalf("opening an existing schema again: %v", err)
	}
	again.Close()
	if err := s.addItems(ctx, "ann", "a", "b", "c", "d"); err != nil {
		t.Fatal(err)
	}
	if err := s.addItems(ctx, "bob", "x"); err != nil {
		t.Fatal(err)
	}
	type result struct {
		removed int64
		at      time.Time
		first   bool
	}
	results := make([]result, 8)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			removed, at, first, err := s.purge(ctx, "ann", "evt-1", 7)
			if err != nil {
				t.Error(err)
			}
			results[i] = result{removed, at, first}
		})
	}
	wg.Wait()
	firsts := 0
	for _, r := range results {
		if r.first {
			firsts++
		}
		if r.removed != 4 || !r.at.Equal(results[0].at) {
			t.Errorf("delivery reported %d items at %v, want 4 at %v", r.removed, r.at, results[0].at)
		}
	}
	if firsts != 1 {
		t.Errorf("%d deliveries purged, want exactly 1", firsts)
	}
	later, _, first, err := s.purge(ctx, "ann", "evt-1", 7)
	if err != nil || later != 4 || first {
		t.Errorf("a later delivery = %d, first %v, %v; want the recorded 4", later, first, err)
	}
	if n, _ := s.countItems(ctx, "bob"); n != 1 {
		t.Errorf("bob has %d items, want 1", n)
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string // substring of the error; "" = valid
	}{
		{[]string{"--postgres", "postgres://x/db"}, ""},
		{[]string{"--postgres", "postgres://x/db", "--service", "billing", "--ack-wait", "5s"}, ""},
		{[]string{"--postgres", "postgres://x/db", "--service", "to do"}, "--service"},
		{[]string{"--postgres", "postgres://x/db", "--service", ""}, "--service"},
		{[]string{"--postgres", "postgres://x/db", "--ack-wait", "10ms"}, "--ack-wait"},
		{[]string{"--postgres", "postgres://x/db", "--durable", "a.b"}, "--durable"},
		{[]string{"--postgres", "postgres://x/db", "extra"}, "unexpected arguments"},
		{[]string{"--postgres", "postgres://x/db", "--nope"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		var out strings.Builder
		_, _, err := parseFlags(tt.args, &out)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("parseFlags(%q) = %v, want valid", tt.args, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("parseFlags(%q) = %v, want an error about %s", tt.args, err, tt.want)
		}
	}
}
