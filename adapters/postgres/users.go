package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/userlife/userlife/projections"
)

// usersProjection applies batches to one users table (live or shadow).
type usersProjection struct {
	s   *Store
	t   target
	sql usersSQL
}

var _ projections.Projection = (*usersProjection)(nil)

func (s *Store) usersAt(t target) *usersProjection {
	return &usersProjection{s: s, t: t, sql: newUsersSQL(t.table)}
}

func (p *usersProjection) Name() string { return p.t.projection }

func (p *usersProjection) Checkpoint(ctx context.Context) (uint64, error) {
	return p.s.checkpointOf(ctx, p.t.checkpoint)
}

// Apply folds the batch in memory over the current rows of the users it
// touches (one read), then writes each touched user's final row once: a
// user with five events in the batch costs one upsert, not five.
func (p *usersProjection) Apply(ctx context.Context, b projections.Batch) error {
	ids := batchUserIDs(b)
	stored := make(map[string]projections.User, len(ids))
	err := p.s.runBatch(ctx, b, batchTx{
		checkpoint: p.t.checkpoint,
		prefetch: func(q *pgx.Batch) {
			q.Queue(p.sql.load, ids).Query(func(rows pgx.Rows) error {
				for rows.Next() {
					u, err := scanUser(rows)
					if err != nil {
						return err
					}
					stored[u.ID] = u
				}
				return rows.Err()
			})
		},
		write: func(ctx context.Context, tx pgx.Tx, rest projections.Batch) (*pgx.Batch, error) {
			w := &pgx.Batch{}
			changes := make(map[string]*userChange, len(ids))
			failures := foldUsers(changes, stored, rest, p.s.now())
			p.sql.queueWrites(w, changes)
			queueFailures(w, p.t.checkpoint, failures)
			return w, nil
		},
	})
	if err != nil {
		return fmt.Errorf("postgres: apply %s: %w", p.t.checkpoint, err)
	}
	return nil
}

// batchUserIDs lists each user the batch's decodable messages are about,
// once.
func batchUserIDs(b projections.Batch) []string {
	seen := make(map[string]struct{}, len(b))
	ids := make([]string, 0, len(b))
	for _, m := range b {
		if m.Err != nil {
			continue
		}
		if _, ok := seen[m.Event.UserID]; !ok {
			seen[m.Event.UserID] = struct{}{}
			ids = append(ids, m.Event.UserID)
		}
	}
	return ids
}

// userChange is the net effect of a batch on one stored user.
type userChange struct {
	row     *projections.User // final row; nil: the user has no row now
	stored  bool              // the user had a row before the batch
	changed bool              // some message of the batch changed the row
	deleted uint64            // with row nil: the sequence that deleted it
}

// foldUsers applies rest in order with the pure reducer and records the
// net change per user in changes; a user not in changes yet starts from its
// stored row, if any. It returns the messages that failed.
func foldUsers(changes map[string]*userChange, stored map[string]projections.User, rest projections.Batch, now time.Time) []projections.Failure {
	var failures []projections.Failure
	for _, m := range rest {
		var c *userChange
		var cur *projections.User
		if m.Err == nil {
			if c = changes[m.Event.UserID]; c == nil {
				c = &userChange{}
				if u, ok := stored[m.Event.UserID]; ok {
					c.row, c.stored = &u, true
				}
				changes[m.Event.UserID] = c
			}
			cur = c.row
		}
		ch, err := projections.ReduceUserMessage(cur, m)
		if err != nil {
			failures = append(failures, projections.NewFailure(projections.Users, m, err, now))
			continue
		}
		// The reducer returns the same row for an event it has already
		// applied, so only a new pointer is a change.
		c.changed = c.changed || ch.Row != cur
		c.row = ch.Row
		if ch.Row == nil {
			c.deleted = m.Seq
		}
	}
	return failures
}
