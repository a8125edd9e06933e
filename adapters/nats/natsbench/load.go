package natsbench

import (
	"slices"
	"time"
)

// Load bounds a measurement: it stops after Count operations or MaxTime,
// whichever comes first, with InFlight operations at a time.
type Load struct {
	InFlight int
	Count    int
	MaxTime  time.Duration // 0: no time limit
}

func (l Load) inflight() int { return max(l.InFlight, 1) }

// over reports whether a loop that started at start has run out of time.
func (l Load) over(start time.Time) bool {
	return l.MaxTime > 0 && time.Since(start) >= l.MaxTime
}

// Result is what a measurement did: how many operations in how long, and
// the latency of each one when it has one.
type Result struct {
	Ops       int
	Elapsed   time.Duration
	Latencies []time.Duration // sorted
}

// Rate is operations per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// Quantile is the q-quantile (0..1) of the latencies; 0 without any.
func (r Result) Quantile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	return r.Latencies[int(q*float64(len(r.Latencies)-1))]
}

func newResult(ops int, elapsed time.Duration, lat []time.Duration) Result {
	slices.Sort(lat)
	return Result{Ops: ops, Elapsed: elapsed, Latencies: lat}
}
