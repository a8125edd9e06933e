package metrics

import (
	"context"
	"time"

	"github.com/userlife/userlife/domain"
	"github.com/userlife/userlife/events"
)

// TimedStore times every Append of the store it wraps into
// userlife_append_seconds; loads pass through. It keeps the store's
// incremental loads, so domain.Service's user cache still works.
type TimedStore struct {
	domain.IncrementalStore
	m *Metrics
}

var _ domain.IncrementalStore = TimedStore{}

// TimeAppends wraps s.
func (m *Metrics) TimeAppends(s domain.IncrementalStore) TimedStore {
	return TimedStore{IncrementalStore: s, m: m}
}

// Append appends through the wrapped store and records how long it took,
// whatever the result (a conflict costs a round trip too).
func (s TimedStore) Append(ctx context.Context, userID string, expectedVersion uint64, evs []events.Event) (uint64, error) {
	start := time.Now()
	seq, err := s.IncrementalStore.Append(ctx, userID, expectedVersion, evs)
	s.m.ObserveAppend(time.Since(start))
	return seq, err
}
