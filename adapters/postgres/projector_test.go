package postgres_test

import (
	"context"
	"fmt"
	"time"

	"github.com/userlife/userlife/projections"
)

// projector applies a stream to one projection the way userlife's projector
// does: from the checkpoint, in batches; after an error it backs off, reads
// the checkpoint again and resumes there, so a batch whose commit was lost
// is re-read and one that did commit is not applied twice.
type projector struct {
	p     projections.Projection
	msgs  []projections.Message
	batch int
	// head is how many messages the stream holds now (all if nil).
	head func() int
	// untilHead stops at the head instead of the end of msgs, as a
	// rebuild's fill does.
	untilHead bool
	// errs counts the errors ridden out.
	errs int
}

func (r *projector) run(ctx context.Context) error {
	backoff := time.Millisecond
	fail := func(err error) error {
		r.errs++
		if r.errs > 10000 {
			return fmt.Errorf("%s: giving up after %d errors, last: %w", r.p.Name(), r.errs, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last error: %v)", r.p.Name(), ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
		return nil
	}
	for {
		cp, err := r.p.Checkpoint(ctx)
		if err != nil {
			if err := fail(err); err != nil {
				return err
			}
			continue
		}
		if int(cp) == len(r.msgs) {
			return nil
		}
		head := len(r.msgs)
		if r.head != nil {
			head = r.head()
		}
		if int(cp) >= head && r.untilHead {
			return nil
		}
		if int(cp) >= head {
			time.Sleep(time.Millisecond) // caught up with the stream
			continue
		}
		b := projections.Batch(r.msgs[cp:min(int(cp)+r.batch, head)])
		if err := r.p.Apply(ctx, b); err != nil {
			if err := fail(err); err != nil {
				return err
			}
			continue
		}
		backoff = time.Millisecond
	}
}
