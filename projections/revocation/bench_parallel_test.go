package revocation_test

import (
	"math/rand/v2"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/userlife/userlife/projections/revocation"
)

// BenchmarkCheckParallel and BenchmarkPlainMapLookupParallel read the same
// 1,000,000 keys as BenchmarkCheck and BenchmarkPlainMapLookup with every
// core (b.RunParallel), each goroutine in its own random order, so one run
// shows what the view costs over a bare map when all cores read at once.

// parallelOrder gives each RunParallel goroutine its own random start and
// stride into bench().order, so goroutines do not read in lockstep.
var parallelSeed atomic.Uint64

func parallelCursor() (start, stride int) {
	r := rand.New(rand.NewPCG(parallelSeed.Add(1), 7))
	return r.IntN(1 << 20), 2*r.IntN(1<<18) + 1 // odd stride: visits every slot
}

func BenchmarkCheckParallel(b *testing.B) {
	d := bench()
	c := revocation.NewChecker(revocation.Config{})
	c.Load(d.Entries, benchUsers)
	iat := time.Now().Unix()
	var refused atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i, stride := parallelCursor()
		n := 0
		for pb.Next() {
			if c.Check(d.IDs[d.Order[i&(len(d.Order)-1)]], "", iat) != revocation.Allowed {
				n++
			}
			i += stride
		}
		refused.Add(int64(n))
	})
	if b.N >= 1000 && refused.Load() == 0 { // a tiny b.N may draw only allowed users
		b.Fatal("nothing refused")
	}
}

func BenchmarkPlainMapLookupParallel(b *testing.B) {
	d := bench()
	m := make(map[string]int, benchUsers)
	for i, id := range d.IDs {
		m[id] = i
	}
	var total atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i, stride := parallelCursor()
		sum := 0
		for pb.Next() {
			sum += m[d.IDs[d.Order[i&(len(d.Order)-1)]]]
			i += stride
		}
		total.Add(int64(sum))
	})
	if b.N >= 1000 && total.Load() == 0 {
		b.Fatal("nothing found")
	}
}

// BenchmarkMemoryPerEntry is the live heap a Checker loaded with 1,000,000
// entries holds, per entry. The Checker keeps the Entry's UserID string as
// its key without copying it, so two figures: bytes/entry counts the view
// with its own copy of every id (what a gateway holds: its ids come from
// decoding KV entries), table-bytes/entry the view alone, with ids the
// caller keeps anyway.
func BenchmarkMemoryPerEntry(b *testing.B) {
	d := bench()
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var withIDs, table float64
	for b.Loop() {
		// The view alone: d.IDs is live before and after.
		h0 := heap()
		c := revocation.NewChecker(revocation.Config{})
		c.Load(d.Entries, benchUsers)
		table = (float64(heap()) - float64(h0)) / benchUsers
		runtime.KeepAlive(c)
		c = nil

		// With its own ids: the entries passed to Load are dropped after.
		h0 = heap()
		own := make([]revocation.Entry, len(d.Entries))
		for i, e := range d.Entries {
			e.UserID = strings.Clone(e.UserID)
			own[i] = e
		}
		c = revocation.NewChecker(revocation.Config{})
		c.Load(own, benchUsers)
		own = nil
		withIDs = (float64(heap()) - float64(h0)) / benchUsers
		runtime.KeepAlive(c)
	}
	b.ReportMetric(withIDs, "bytes/entry")
	b.ReportMetric(table, "table-bytes/entry")
}
