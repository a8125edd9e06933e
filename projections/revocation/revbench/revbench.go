// Package revbench measures the revocation Checker next to a plain Go map
// holding the same keys, read in the same random order, so one run shows
// what the view costs over a bare lookup. The Go benchmarks of
// projections/revocation and `userlife bench` both use it.
package revbench

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/userlife/userlife/projections/revocation"
)

// Dataset is a view of users and a random order to read them in.
type Dataset struct {
	IDs     []string
	Order   []int32 // 1<<20 random indexes into IDs
	Entries []revocation.Entry
	// Since is a token's iat that every user revoked in Entries refuses.
	Since time.Time
}

// NewDataset makes users UUIDv7-shaped ids (as the service assigns them),
// every tenth with a revocation and every tenth disabled.
func NewDataset(users int) *Dataset {
	r := rand.New(rand.NewPCG(1, 2))
	d := &Dataset{IDs: make([]string, users), Entries: make([]revocation.Entry, users), Since: time.Now()}
	for i := range d.IDs {
		d.IDs[i] = fmt.Sprintf("0195%04x-%04x-7%03x-8%03x-%012x", r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xfff, r.Uint64()&0xffffffffffff)
		e := revocation.Entry{UserID: d.IDs[i], State: revocation.StateConfirmed, Revision: uint64(i + 1)}
		switch i % 10 {
		case 0:
			e.RevokedBefore = d.Since.Add(time.Hour)
		case 1:
			e.State = revocation.StateDisabled
		}
		d.Entries[i] = e
	}
	d.Order = make([]int32, 1<<20)
	for i := range d.Order {
		d.Order[i] = int32(r.IntN(users))
	}
	return d
}

// Checker is a Checker loaded with the dataset.
func (d *Dataset) Checker() *revocation.Checker {
	c := revocation.NewChecker(revocation.Config{})
	c.Load(d.Entries, uint64(len(d.Entries)))
	return c
}

// Map is a plain map from id to index, the anchor.
func (d *Dataset) Map() map[string]int {
	m := make(map[string]int, len(d.IDs))
	for i, id := range d.IDs {
		m[id] = i
	}
	return m
}

// Check checks n tokens, issued at the dataset's Since, starting at
// position from in the order, and returns how many were refused.
func (d *Dataset) Check(c *revocation.Checker, from, n int) int {
	iat := d.Since.Unix()
	refused := 0
	for i := from; i < from+n; i++ {
		if c.Check(d.IDs[d.Order[i&(len(d.Order)-1)]], "", iat) != revocation.Allowed {
			refused++
		}
	}
	return refused
}

// Lookup looks n ids up in m, starting at position from in the order, and
// returns the sum of their values (so the lookups are not optimised away).
func (d *Dataset) Lookup(m map[string]int, from, n int) int {
	sum := 0
	for i := from; i < from+n; i++ {
		sum += m[d.IDs[d.Order[i&(len(d.Order)-1)]]]
	}
	return sum
}

// Result is a lookup loop's cost.
type Result struct {
	Ops     int
	Elapsed time.Duration
	Allocs  uint64 // heap allocations during the loop
}

// NsPerOp is the average time of one lookup.
func (r Result) NsPerOp() float64 {
	if r.Ops == 0 {
		return 0
	}
	return float64(r.Elapsed.Nanoseconds()) / float64(r.Ops)
}

// AllocsPerOp is the number of heap allocations per lookup, rounded down
// as `go test -benchmem` does: the count is process-wide, so a runtime
// allocation elsewhere during millions of lookups does not make it 1.
func (r Result) AllocsPerOp() uint64 {
	if r.Ops == 0 {
		return 0
	}
	return r.Allocs / uint64(r.Ops)
}

// chunk is how many lookups run between clock reads.
const chunk = 4096

// measure runs fn in chunks until count lookups or maxTime have passed.
func measure(count int, maxTime time.Duration, fn func(from, n int)) Result {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	ops := 0
	for ops < count && (maxTime <= 0 || time.Since(start) < maxTime) {
		n := min(chunk, count-ops)
		fn(ops, n)
		ops += n
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	return Result{Ops: ops, Elapsed: elapsed, Allocs: after.Mallocs - before.Mallocs}
}

// MeasureCheck times Checker.Check over the dataset.
func MeasureCheck(d *Dataset, c *revocation.Checker, count int, maxTime time.Duration) (Result, error) {
	refused := 0
	r := measure(count, maxTime, func(from, n int) { refused += d.Check(c, from, n) })
	if refused == 0 && r.Ops >= 1000 {
		return r, fmt.Errorf("checker refused none of %d tokens, though a fifth of the users are revoked or disabled", r.Ops)
	}
	return r, nil
}

// MeasureMap times the plain map lookup over the same keys in the same order.
func MeasureMap(d *Dataset, m map[string]int, count int, maxTime time.Duration) Result {
	sum := 0
	r := measure(count, maxTime, func(from, n int) { sum += d.Lookup(m, from, n) })
	runtime.KeepAlive(sum)
	return r
}
