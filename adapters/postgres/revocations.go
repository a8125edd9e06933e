package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/userlife/userlife/projections"
	"github.com/userlife/userlife/projections/revocation"
)

// RevocationsProjection names the revocations projection: its
// projection_checkpoints row and its failed_events rows. It is not one of
// projections.Names() (those every store keeps); only PostgreSQL keeps it.
const RevocationsProjection = "revocations"

// revocationsProjection applies batches to one revocations table (live or
// shadow) with revocation.Reduce, the reducer of the KV revocation view.
type revocationsProjection struct {
	s   *Store
	t   target
	sql revocationsSQL
}

var _ projections.Projection = (*revocationsProjection)(nil)

// Revocations is the revocations projection over the live revocations
// table.
func (s *Store) Revocations() projections.Projection { return s.revocationsAt(liveRevocations) }

func (s *Store) revocationsAt(t target) *revocationsProjection {
	return &revocationsProjection{s: s, t: t, sql: newRevocationsSQL(t.table)}
}

func (p *revocationsProjection) Name() string { return p.t.projection }

func (p *revocationsProjection) Checkpoint(ctx context.Context) (uint64, error) {
	return p.s.checkpointOf(ctx, p.t.checkpoint)
}

// Apply folds the batch in memory over the stored entries of the users it
// touches (read in the transaction's first round trip), then writes each
// changed entry once, with the checkpoint, in one transaction.
func (p *revocationsProjection) Apply(ctx context.Context, b projections.Batch) error {
	ids := batchUserIDs(b)
	stored := make(map[string]*revocation.Entry, len(ids))
	err := p.s.runBatch(ctx, b, batchTx{
		checkpoint: p.t.checkpoint,
		prefetch: func(q *pgx.Batch) {
			q.Queue(p.sql.load, ids).Query(func(rows pgx.Rows) error {
				for rows.Next() {
					e, err := scanRevocation(rows)
					if err != nil {
						return err
					}
					stored[e.UserID] = &e
				}
				return rows.Err()
			})
		},
		write: func(ctx context.Context, tx pgx.Tx, rest projections.Batch) (*pgx.Batch, error) {
			changed, failures := foldRevocations(stored, rest, p.t.projection, p.s.now())
			w := &pgx.Batch{}
			if err := p.sql.queueUpsert(w, changed); err != nil {
				return nil, err
			}
			queueFailures(w, p.t.checkpoint, failures)
			return w, nil
		},
	})
	if err != nil {
		return fmt.Errorf("postgres: apply %s: %w", p.t.checkpoint, err)
	}
	return nil
}

// foldRevocations applies rest in order with revocation.Reduce, each user
// starting from its stored entry, and returns the entries that changed and
// the messages that failed (undecodable, no reducer, a payload that does not
// match its type): those are skipped, so one bad event does not stall the
// projection. stored is updated to the folded entries.
func foldRevocations(stored map[string]*revocation.Entry, rest projections.Batch, projection string, now time.Time) (map[string]*revocation.Entry, []projections.Failure) {
	changed := make(map[string]*revocation.Entry)
	var failures []projections.Failure
	for _, m := range rest {
		if m.Err != nil {
			failures = append(failures, projections.NewFailure(projection, m, m.Err, now))
			continue
		}
		cur := stored[m.Event.UserID]
		next, err := revocation.Reduce(cur, m.Event)
		if err != nil {
			failures = append(failures, projections.NewFailure(projection, m, err, now))
			continue
		}
		// Reduce returns cur itself for an event already folded in.
		if next != cur {
			stored[m.Event.UserID] = next
			changed[m.Event.UserID] = next
		}
	}
	return changed, failures
}
