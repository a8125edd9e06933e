package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/userlife/userlife/projections"
)

// shadowUsersInMemory bounds the users rows a rebuild holds in memory
// (roughly 300 bytes each) before writing them to the shadow table.
const shadowUsersInMemory = 500_000

// shadowUsers is the users projection a rebuild fills. Unlike the live one it
// folds batches in memory and writes the table only when it holds too many
// rows, and once fill is done (flush). Per-batch durability buys nothing
// here: an interrupted rebuild starts over from sequence 1. What it saves is
// the cost that dominates a replay: an UPDATE per event of a user already
// stored (about 8 µs of PostgreSQL CPU each), where most users' rows are
// written once, by COPY, in their final state.
type shadowUsers struct {
	s     *Store
	t     target
	sql   usersSQL
	limit int

	mu         sync.Mutex
	checkpoint uint64
	pending    map[string]*userChange // rows changed since the last flush
	failures   []projections.Failure
	flushed    bool // the table holds rows: users not pending must be read from it
}

var _ projections.Projection = (*shadowUsers)(nil)

func (s *Store) shadowUsersAt(t target) *shadowUsers {
	limit := s.shadowLimit
	if limit <= 0 {
		limit = shadowUsersInMemory
	}
	return &shadowUsers{s: s, t: t, sql: newUsersSQL(t.table), limit: limit, pending: make(map[string]*userChange)}
}

func (p *shadowUsers) Name() string { return p.t.projection }

// Checkpoint is the last sequence folded, flushed or not: fill resumes after it.
func (p *shadowUsers) Checkpoint(ctx context.Context) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.checkpoint, nil
}

func (p *shadowUsers) Apply(ctx context.Context, b projections.Batch) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := consecutive(b); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rest, err := b.After(p.checkpoint)
	if err != nil || len(rest) == 0 {
		return err
	}
	stored, err := p.loadFlushed(ctx, rest)
	if err != nil {
		return fmt.Errorf("postgres: apply %s: %w", p.t.checkpoint, err)
	}
	p.failures = append(p.failures, foldUsers(p.pending, stored, rest, p.s.now())...)
	p.checkpoint = rest.Last()
	if len(p.pending) >= p.limit {
		// On an error the rows stay pending and the next Apply (or the
		// final flush) tries again; the batch itself is folded.
		return p.flushLocked(ctx)
	}
	return nil
}

// loadFlushed reads the rows, written by an earlier flush, of the users of
// rest that are not pending.
func (p *shadowUsers) loadFlushed(ctx context.Context, rest projections.Batch) (map[string]projections.User, error) {
	if !p.flushed {
		return nil, nil
	}
	var ids []string
	for _, id := range batchUserIDs(rest) {
		if _, ok := p.pending[id]; !ok {
			ids = append(ids, id)
		}
	}
	rows, err := p.s.pool.Query(ctx, p.sql.load, ids)
	if err != nil {
		return nil, err
	}
	stored := make(map[string]projections.User, len(ids))
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		stored[u.ID] = u
	}
	return stored, rows.Err()
}

// flush writes the pending rows, failures and checkpoint in one transaction.
func (p *shadowUsers) flush(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.flushLocked(ctx)
}

func (p *shadowUsers) flushLocked(ctx context.Context) error {
	w := sortChanges(p.pending)
	err := pgx.BeginFunc(ctx, p.s.pool, func(tx pgx.Tx) error {
		// A pending user that is not stored was looked for and is absent
		// (or the table is empty): COPY needs no conflict handling.
		if len(w.insert.id) > 0 {
			cols := strings.Split(userColumns, ", ")
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{p.t.table}, cols, w.insert.copySource()); err != nil {
				return fmt.Errorf("copy: %w", err)
			}
		}
		b := &pgx.Batch{}
		p.sql.queueUpdatesAndDeletes(b, w)
		queueFailures(b, p.t.checkpoint, p.failures)
		b.Queue(`UPDATE projection_checkpoints SET position = $2 WHERE name = $1`, p.t.checkpoint, int64(p.checkpoint))
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: flush %s: %w", p.t.checkpoint, err)
	}
	p.pending, p.failures, p.flushed = make(map[string]*userChange), nil, true
	return nil
}
