package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/userlife/userlife/projections"
)

// batchTx is one batch's transaction, shared by both projections:
//
//  1. one round trip: BEGIN, create the checkpoint row if missing, lock it
//     FOR UPDATE, and whatever the projection prefetches (users: the rows the
//     batch touches). The lock makes concurrent appliers of one projection
//     take turns, so the prefetched rows cannot change under us;
//  2. drop redeliveries, refuse a gap (a *projections.GapError, nothing
//     written);
//  3. the projection writes its rows, and the new checkpoint rides in its
//     last round trip;
//  4. COMMIT. Any error rolls everything back, so the caller can retry the
//     same batch.
type batchTx struct {
	checkpoint string
	// prefetch queues reads into the first round trip; their callbacks run
	// before write.
	prefetch func(b *pgx.Batch)
	// write writes rest (never empty) and returns the queries to send with
	// the checkpoint update.
	write func(ctx context.Context, tx pgx.Tx, rest projections.Batch) (*pgx.Batch, error)
}

func (s *Store) runBatch(ctx context.Context, b projections.Batch, bt batchTx) error {
	if len(b) == 0 {
		return nil
	}
	if err := consecutive(b); err != nil {
		return err
	}
	first := &pgx.Batch{}
	first.BeginTx(pgx.TxOptions{})
	first.Queue(`INSERT INTO projection_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING`, bt.checkpoint)
	var checkpoint int64
	first.Queue(`SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE`, bt.checkpoint).
		QueryRow(func(r pgx.Row) error { return r.Scan(&checkpoint) })
	if bt.prefetch != nil {
		bt.prefetch(first)
	}
	br := s.pool.SendBatch(ctx, first)
	tx := br.Tx()
	defer rollback(ctx, tx)
	if err := br.Close(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}

	rest, err := b.After(uint64(checkpoint))
	if err != nil || len(rest) == 0 {
		return err // a gap, or nothing but redeliveries
	}
	wb, err := bt.write(ctx, tx, rest)
	if err != nil {
		return err
	}
	wb.Queue(`UPDATE projection_checkpoints SET position = $2 WHERE name = $1`, bt.checkpoint, int64(rest.Last()))
	if err := tx.SendBatch(ctx, wb).Close(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if s.beforeCommit != nil {
		if err := s.beforeCommit(ctx, tx, bt.checkpoint); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// rollback ends tx unless it committed, and gives its connection back to
// the pool. It runs even when ctx is done (a canceled Apply must not leave a
// transaction open), but not forever: if it fails, pgx closes the
// connection and the server ends the transaction.
func rollback(ctx context.Context, tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = tx.Rollback(ctx)
}

// consecutive checks the Batch contract (consecutive sequences, in order):
// applying [5, 7] as if it were whole would checkpoint past 6 unseen.
func consecutive(b projections.Batch) error {
	for i := 1; i < len(b); i++ {
		if b[i].Seq != b[i-1].Seq+1 {
			return fmt.Errorf("postgres: batch is not consecutive: %d follows %d", b[i].Seq, b[i-1].Seq)
		}
	}
	return nil
}

// checkpointOf reads a checkpoint row; a projection never applied is at 0.
func (s *Store) checkpointOf(ctx context.Context, name string) (uint64, error) {
	var pos int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(position), 0) FROM projection_checkpoints WHERE name = $1`, name).Scan(&pos)
	if err != nil {
		return 0, fmt.Errorf("postgres: checkpoint %s: %w", name, err)
	}
	return uint64(pos), nil
}
