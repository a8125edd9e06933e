package natsbench

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Run calls fn under load: load.InFlight goroutines (worker 0..n-1) take
// operation numbers until load.Count operations have started or
// load.MaxTime has passed, and the latency of each call is recorded. The
// first error stops every worker and is returned.
func Run(ctx context.Context, load Load, fn func(ctx context.Context, worker, op int) error) (Result, error) {
	inflight := load.inflight()
	var (
		next      atomic.Int64
		wg        sync.WaitGroup
		failed    atomic.Pointer[error]
		latencies = make([][]time.Duration, inflight)
	)
	start := time.Now()
	for w := range inflight {
		wg.Go(func() {
			lat := make([]time.Duration, 0, load.Count/inflight+1)
			for {
				op := int(next.Add(1)) - 1
				if op >= load.Count || failed.Load() != nil || load.over(start) || ctx.Err() != nil {
					break
				}
				t0 := time.Now()
				if err := fn(ctx, w, op); err != nil {
					failed.CompareAndSwap(nil, &err)
					break
				}
				lat = append(lat, time.Since(t0))
			}
			latencies[w] = lat
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := failed.Load(); err != nil {
		return Result{}, *err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	lat := slices.Concat(latencies...)
	return newResult(len(lat), elapsed, lat), nil
}
