package postgres

import (
	"context"
	"slices"
	"sync"

	"github.com/userlife/userlife/projections"
)

// shadowAuditBuffer is how many messages a rebuild of the audit (or of the
// revocations) gathers at most before writing them in one transaction.
const shadowAuditBuffer = 50_000

// bufferedShadow gathers the batches fill applies and hands them on in
// larger ones: a replay then pays the per-transaction costs (BEGIN, the
// checkpoint lock, COPY start-up, COMMIT) once per tens of thousands of
// messages instead of once per batch. As with shadowUsers, nothing is lost
// by not committing each batch: an interrupted rebuild starts over.
//
// Writes run in the background while fill goes on gathering: reading and
// decoding the stream and writing to PostgreSQL overlap instead of taking
// turns. At most one write is in flight, so the wrapped projection still
// gets its batches one after the other, in order. A write starts as soon
// as the previous one has ended and minWrite messages are gathered; fill
// waits only when limit messages are gathered and the writer is still busy.
// The write left when fill ends is then about what one write takes to
// gather, not a whole buffer.
type bufferedShadow struct {
	p               projections.Projection
	minWrite, limit int
	ctx             context.Context // the background writes run within it

	mu         sync.Mutex
	buf        projections.Batch
	checkpoint uint64
	writing    *shadowWrite // the write in flight, if any
}

// shadowWrite is one background write of a bufferedShadow.
type shadowWrite struct {
	batch projections.Batch
	done  chan struct{} // closed when the write has ended, with err set
	err   error
}

var _ projections.Projection = (*bufferedShadow)(nil)

// bufferedShadow wraps p, a projection over a shadow table; its
// background writes run within ctx. A write starts once 1/minWriteDiv of
// the buffer is gathered: the audit's at a fifth (a smaller write costs
// only one more transaction), the revocations' when full (each write
// rewrites the rows of the users it touches).
func (s *Store) bufferedShadow(ctx context.Context, p projections.Projection, minWriteDiv int) *bufferedShadow {
	b := &bufferedShadow{p: p, limit: shadowAuditBuffer, ctx: ctx}
	if s.shadowLimit > 0 {
		b.limit = s.shadowLimit
	}
	b.minWrite = max(1, b.limit/minWriteDiv)
	return b
}

func (b *bufferedShadow) Name() string { return b.p.Name() }

// Checkpoint is the last sequence gathered, written or not: fill resumes
// after it.
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
	if b.writing != nil {
		select {
		case <-b.writing.done:
		default:
			if len(b.buf) < b.limit {
				return nil // the writer is busy and the buffer has room
			}
		}
		// On an error the batch is gathered all the same, and what failed
		// to be written stays buffered: the next Apply (or flush) tries
		// again.
		if err := b.waitLocked(ctx); err != nil {
			return err
		}
	}
	if len(b.buf) < b.minWrite {
		return nil
	}
	w := &shadowWrite{batch: b.buf, done: make(chan struct{})}
	// The next buffer has room for what a write usually takes: growing it
	// copies every message gathered so far.
	b.buf, b.writing = make(projections.Batch, 0, min(b.limit, 2*b.minWrite)), w
	go func() {
		defer close(w.done)
		w.err = b.p.Apply(b.ctx, w.batch)
	}()
	return nil
}

// waitLocked waits for the write in flight, if any. If it failed, its
// messages go back in front of the buffer and its error is returned.
func (b *bufferedShadow) waitLocked(ctx context.Context) error {
	w := b.writing
	if w == nil {
		return nil
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.writing = nil
	if w.err != nil {
		b.buf = slices.Concat(w.batch, b.buf)
		return w.err
	}
	return nil
}

// flush writes everything gathered, once the write in flight has ended. A
// write that failed in flight is tried again with the rest, as the
// projector would have retried the batch whose Apply reported it.
func (b *bufferedShadow) flush(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.waitLocked(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	if err := b.p.Apply(ctx, b.buf); err != nil {
		return err
	}
	b.buf = nil
	return nil
}

// wait returns once no write is in flight, whatever its outcome.
func (b *bufferedShadow) wait() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.writing != nil {
		<-b.writing.done
		b.writing = nil
	}
}
