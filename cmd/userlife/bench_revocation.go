package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natsbench"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections/revocation"
)

// propagationTimeout is how long one revocation may take to reach the
// Checker before the measurement fails.
const propagationTimeout = 10 * time.Second

// measurePropagation publishes RevokeSessions on ids, one at a time, and
// records for each the time until checker (fed by a watcher on its own
// connection) refuses a token issued a second before. Each id must be a
// confirmed user with no revocation yet, so only the command under test
// can make the Checker refuse. It stops after len(ids) or maxTime.
func measurePropagation(ctx context.Context, client *natsadapter.Client, checker *revocation.Checker, ids []string, maxTime time.Duration) (natsbench.Result, error) {
	lat := make([]time.Duration, 0, len(ids))
	start := time.Now()
	for _, user := range ids {
		if maxTime > 0 && time.Since(start) >= maxTime {
			break
		}
		iat := time.Now().Unix() - 1
		if r := checker.Check(user, "", iat); r != revocation.Allowed {
			return natsbench.Result{}, fmt.Errorf("user %s refused (%v) before its revocation", user, r)
		}
		t0 := time.Now()
		if _, err := client.Send(ctx, &events.RevokeSessions{CommandMeta: events.CommandMeta{UserID: user, Actor: "bench"}}); err != nil {
			return natsbench.Result{}, err
		}
		for checker.Check(user, "", iat) != revocation.ReasonRevoked {
			if time.Since(t0) > propagationTimeout {
				return natsbench.Result{}, fmt.Errorf("user %s not refused %s after RevokeSessions", user, propagationTimeout)
			}
			if err := ctx.Err(); err != nil {
				return natsbench.Result{}, err
			}
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	return natsbench.Result{Ops: len(lat), Elapsed: time.Since(start), Latencies: lat}, nil
}

// background sends RevokeSessions on users picked at random among ids at
// a steady rate (each send at its scheduled time; late sends catch up)
// until stopped or maxTime has passed.
type background struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	sent    int
	elapsed time.Duration
	err     error
}

func startBackground(ctx context.Context, client *natsadapter.Client, ids []string, rate int, maxTime time.Duration) *background {
	bg := &background{stop: make(chan struct{})}
	bg.wg.Go(func() {
		r := rand.New(rand.NewPCG(3, 4))
		period := time.Second / time.Duration(rate)
		start := time.Now()
		defer func() { bg.elapsed = time.Since(start) }()
		for k := 0; ; k++ {
			at := start.Add(time.Duration(k) * period)
			if at.Sub(start) > maxTime {
				return
			}
			select {
			case <-bg.stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(time.Until(at)):
			}
			cmd := &events.RevokeSessions{CommandMeta: events.CommandMeta{UserID: ids[r.IntN(len(ids))], Actor: "bench"}}
			if _, err := client.Send(ctx, cmd); err != nil {
				bg.err = err
				return
			}
			bg.sent++
		}
	})
	return bg
}

// Stop ends the load and returns the rate achieved.
func (bg *background) Stop() (float64, error) {
	close(bg.stop)
	bg.wg.Wait()
	if bg.elapsed <= 0 {
		return 0, bg.err
	}
	return float64(bg.sent) / bg.elapsed.Seconds(), bg.err
}
