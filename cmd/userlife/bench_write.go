package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natsbench"
	"github.com/userlife/userlife/events"
)

// seedConfirmed appends UserRegistered + UserConfirmed for every id straight
// to the event store, from workers goroutines.
func seedConfirmed(ctx context.Context, store *natsadapter.EventStore, ids []string, workers int) error {
	now := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for u := w; u < len(ids); u += workers {
				id := ids[u]
				mk := func(n int, p events.Payload) events.Event {
					return events.Event{ID: uuid.NewString(), Type: p.EventType(), UserID: id, OccurredAt: now,
						Actor: "admin@example.com", Reason: "bench", CommandID: fmt.Sprintf("seed-%s-%d", id, n), Data: p}
				}
				seq, err := store.Append(ctx, id, 0, []events.Event{mk(0, events.UserRegistered{Email: id + "@example.com"})})
				if err == nil {
					_, err = store.Append(ctx, id, seq, []events.Event{mk(1, events.UserConfirmed{})})
				}
				if err != nil {
					errs <- fmt.Errorf("seed user %s: %w", id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// userIDs returns prefix0 … prefix(n-1).
func userIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return ids
}

// measureCommands sends RevokeSessions on users picked at random among ids
// through the service (publish → outcome) under load and records each
// command's outcome latency.
func measureCommands(ctx context.Context, client *natsadapter.Client, ids []string, load natsbench.Load) (natsbench.Result, error) {
	rngs := make([]*rand.Rand, max(load.InFlight, 1))
	for w := range rngs {
		rngs[w] = rand.New(rand.NewPCG(uint64(w), 1))
	}
	return natsbench.Run(ctx, load, func(ctx context.Context, w, _ int) error {
		cmd := &events.RevokeSessions{CommandMeta: events.CommandMeta{
			UserID: ids[rngs[w].IntN(len(ids))], Actor: "bench", Reason: "benchmark"}}
		out, err := client.Do(ctx, cmd)
		if err != nil {
			return fmt.Errorf("RevokeSessions %s: %w", cmd.UserID, err)
		}
		if out.Status != events.StatusAccepted {
			return fmt.Errorf("RevokeSessions %s: outcome %s %s %s", cmd.UserID, out.Status, out.Code, out.Message)
		}
		return nil
	})
}
