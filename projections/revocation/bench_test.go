package revocation_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/userlife/userlife/projections/revocation"
)

// BenchmarkCheck and BenchmarkPlainMapLookup read the same 1,000,000 keys
// in the same random order, so one run shows what the view costs over a
// bare map lookup.

const benchUsers = 1_000_000

var bench = sync.OnceValue(func() (b struct {
	ids     []string
	order   []int32 // random indexes into ids
	entries []revocation.Entry
},
) {
	r := rand.New(rand.NewPCG(1, 2))
	b.ids = make([]string, benchUsers)
	b.entries = make([]revocation.Entry, benchUsers)
	for i := range b.ids {
		// UUIDv7-shaped, like the ids the service assigns.
		b.ids[i] = fmt.Sprintf("0195%04x-%04x-7%03x-8%03x-%012x", r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xfff, r.Uint64()&0xffffffffffff)
		e := revocation.Entry{UserID: b.ids[i], State: revocation.StateConfirmed, Revision: uint64(i + 1)}
		switch i % 10 {
		case 0:
			e.RevokedBefore = t0
		case 1:
			e.State = revocation.StateDisabled
		}
		b.entries[i] = e
	}
	b.order = make([]int32, 1<<20)
	for i := range b.order {
		b.order[i] = int32(r.IntN(benchUsers))
	}
	return b
})

func BenchmarkCheck(b *testing.B) {
	d := bench()
	c := revocation.NewChecker(revocation.Config{})
	c.Load(d.entries, benchUsers)
	iat := time.Now().Unix()
	var refused int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if c.Check(d.ids[d.order[i&(len(d.order)-1)]], "", iat) != revocation.Allowed {
			refused++
		}
	}
	if refused == 0 {
		b.Fatal("nothing refused")
	}
}

func BenchmarkPlainMapLookup(b *testing.B) {
	d := bench()
	m := make(map[string]int, benchUsers)
	for i, id := range d.ids {
		m[id] = i
	}
	var sum int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		sum += m[d.ids[d.order[i&(len(d.order)-1)]]]
	}
	if sum == 0 {
		b.Fatal("nothing found")
	}
}

// BenchmarkApply is one update to a view of 1,000,000 users; updates/s is
// the rate one watcher goroutine can keep up with.
func BenchmarkApply(b *testing.B) {
	d := bench()
	c := revocation.NewChecker(revocation.Config{})
	c.Load(d.entries, benchUsers)
	rev := uint64(benchUsers)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		rev++
		c.Apply(revocation.Entry{UserID: d.ids[d.order[i&(len(d.order)-1)]], State: revocation.StateDisabled, Revision: rev})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

// BenchmarkApplyBatch is a backlog of 1,000 updates applied at once to a
// view of 1,000,000 users; each touched shard is copied once per batch.
func BenchmarkApplyBatch(b *testing.B) {
	d := bench()
	c := revocation.NewChecker(revocation.Config{})
	c.Load(d.entries, benchUsers)
	rev := uint64(benchUsers)
	batch := make([]revocation.Entry, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		for j := range batch {
			rev++
			batch[j] = revocation.Entry{UserID: d.ids[d.order[n&(len(d.order)-1)]], State: revocation.StateDisabled, Revision: rev}
			n++
		}
		c.ApplyBatch(batch)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "updates/s")
}

// BenchmarkLoad is a snapshot of 1,000,000 users, as a gateway loads it at
// start; it also reports the heap the loaded view holds.
func BenchmarkLoad(b *testing.B) {
	d := bench()
	var c *revocation.Checker
	b.ReportAllocs()
	for b.Loop() {
		c = revocation.NewChecker(revocation.Config{})
		c.Load(d.entries, benchUsers)
	}
	b.StopTimer()
	var before, after runtime.MemStats
	c = nil
	runtime.GC()
	runtime.ReadMemStats(&before)
	c = revocation.NewChecker(revocation.Config{})
	c.Load(d.entries, benchUsers)
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB-heap")
	runtime.KeepAlive(c)
}
