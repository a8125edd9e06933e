package domain_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/userlife/userlife/domain"
	"github.com/userlife/userlife/events"
)

// uuidV7 is RFC 9562's text form with version 7 and variant 10xx.
var uuidV7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestDeriveIDFormat(t *testing.T) {
	t.Parallel()
	instants := []time.Time{
		time.Unix(0, 0),
		t0,
		t0.Add(999 * time.Microsecond),
		time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	seeds := []string{"", "c-1", "RegisterUser:c-1", strings.Repeat("x", 10000)}
	for _, at := range instants {
		for _, seed := range seeds {
			id := domain.DeriveID(seed, at)
			if !uuidV7.MatchString(id) {
				t.Errorf("DeriveID(%.10q, %v) = %q, not a UUIDv7", seed, at, id)
			}
			if !events.ValidID(id) {
				t.Errorf("DeriveID(%.10q, %v) = %q, not a valid user id", seed, at, id)
			}
			// The first 48 bits are the Unix time in milliseconds.
			ms, err := strconv.ParseInt(strings.ReplaceAll(id[:13], "-", ""), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			if ms != at.UnixMilli() {
				t.Errorf("DeriveID(%.10q, %v) timestamp = %d ms, want %d", seed, at, ms, at.UnixMilli())
			}
		}
	}
}

func TestDeriveIDDeterministic(t *testing.T) {
	t.Parallel()
	a, b := domain.DeriveID("c-1", t0), domain.DeriveID("c-1", t0)
	if a != b {
		t.Errorf("same seed and instant: %q and %q", a, b)
	}
	// The same millisecond in another zone or with sub-millisecond noise.
	if c := domain.DeriveID("c-1", t0.Add(500*time.Microsecond).In(time.FixedZone("X", 3600))); c != a {
		t.Errorf("same millisecond: %q and %q", c, a)
	}
}

func TestDeriveIDSeedsDiffer(t *testing.T) {
	t.Parallel()
	seen := make(map[string]string)
	for i := range 1000 {
		seed := "c-" + strconv.Itoa(i)
		id := domain.DeriveID(seed, t0)
		if other, dup := seen[id]; dup {
			t.Fatalf("seeds %q and %q both give %q", other, seed, id)
		}
		seen[id] = seed
	}
}

func TestDeriveIDOrdersByTime(t *testing.T) {
	t.Parallel()
	prev := domain.DeriveID("zzzz", t0)
	for i := 1; i < 200; i++ {
		// A later millisecond sorts after, whatever the seed.
		at := t0.Add(time.Duration(i*i) * time.Millisecond)
		id := domain.DeriveID("seed-"+strconv.Itoa(200-i), at)
		if id <= prev {
			t.Fatalf("id at %v = %q sorts before the earlier %q", at, id, prev)
		}
		prev = id
	}
}
