package postgres

import (
	"context"
	"sync"

	"github.com/userlife/userlife/projections"
)

// shadowAuditBuffer is how many messages a rebuild of the audit (or of the
// revocations) gathers before writing them in one transaction.
const shadowAuditBuffer = 50_000

// bufferedShadow gathers the batches fill applies and hands them on in
// larger ones: a replay then pays the per-transaction costs (BEGIN, the
// checkpoint lock, COPY start-up, COMMIT) once per 50,000 messages instead of
// once per batch. As with shadowUsers, nothing is lost by not committing each
// batch: an interrupted rebuild starts over.
type bufferedShadow struct {
	p     projections.Projection
	limit int

	mu         sync.Mutex
	buf        projections.Batch
	checkpoint uint64
}

var _ projections.Projection = (*bufferedShadow)(nil)

// bufferedShadow wraps p, a projection over a shadow table.
func (s *Store) bufferedShadow(p projections.Projection) *bufferedShadow {
	b := &bufferedShadow{p: p, limit: shadowAuditBuffer}
	if s.shadowLimit > 0 {
		b.limit = s.shadowLimit
	}
	return b
}

func (b *bufferedShadow) Name() string { return b.p.Name() }

func (b *bufferedShadow) Checkpoint(ctx context.Context) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.checkpoint, nil
}

func (b *bufferedShadow) Apply(ctx context.Context, batch projections.Batch) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := consecutive(batch); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rest, err := batch.After(b.checkpoint)
	if err != nil || len(rest) == 0 {
		return err
	}
	b.buf = append(b.buf, rest...)
	b.checkpoint = rest.Last()
	if len(b.buf) >= b.limit {
		return b.flushLocked(ctx)
	}
	return nil
}

func (b *bufferedShadow) flush(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked(ctx)
}

// flushLocked applies what is buffered; on an error it stays buffered for
// the next try.
func (b *bufferedShadow) flushLocked(ctx context.Context) error {
	if err := b.p.Apply(ctx, b.buf); err != nil {
		return err
	}
	b.buf = b.buf[:0]
	return nil
}
