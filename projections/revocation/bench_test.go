package revocation_test

import (
	"runtime"
	"sync"
	"testing"

	"github.com/userlife/userlife/projections/revocation"
	"github.com/userlife/userlife/projections/revocation/revbench"
)

// BenchmarkCheck and BenchmarkPlainMapLookup read the same 1,000,000 keys
// in the same random order (revbench, which `userlife bench` runs too), so
// one run shows what the view costs over a bare map lookup.

const benchUsers = 1_000_000

var bench = sync.OnceValue(func() *revbench.Dataset { return revbench.NewDataset(benchUsers) })

func BenchmarkCheck(b *testing.B) {
	d := bench()
	c := d.Checker()
	var refused int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		refused += d.Check(c, i, 1)
	}
	if refused == 0 {
		b.Fatal("nothing refused")
	}
}

func BenchmarkPlainMapLookup(b *testing.B) {
	d := bench()
	m := d.Map()
	var sum int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		sum += d.Lookup(m, i, 1)
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
	c.Load(d.Entries, benchUsers)
	rev := uint64(benchUsers)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		rev++
		c.Apply(revocation.Entry{UserID: d.IDs[d.Order[i&(len(d.Order)-1)]], State: revocation.StateDisabled, Revision: rev})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

// BenchmarkApplyBatch is a backlog of 1,000 updates applied at once to a
// view of 1,000,000 users; each touched shard is copied once per batch.
func BenchmarkApplyBatch(b *testing.B) {
	d := bench()
	c := revocation.NewChecker(revocation.Config{})
	c.Load(d.Entries, benchUsers)
	rev := uint64(benchUsers)
	batch := make([]revocation.Entry, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		for j := range batch {
			rev++
			batch[j] = revocation.Entry{UserID: d.IDs[d.Order[n&(len(d.Order)-1)]], State: revocation.StateDisabled, Revision: rev}
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
		c.Load(d.Entries, benchUsers)
	}
	b.StopTimer()
	var before, after runtime.MemStats
	c = nil
	runtime.GC()
	runtime.ReadMemStats(&before)
	c = revocation.NewChecker(revocation.Config{})
	c.Load(d.Entries, benchUsers)
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB-heap")
	runtime.KeepAlive(c)
}
