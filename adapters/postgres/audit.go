package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/userlife/userlife/projections"
)

// auditProjection applies batches to one audit table (live or shadow).
type auditProjection struct {
	s   *Store
	t   target
	sql auditSQL
}

var _ projections.Projection = (*auditProjection)(nil)

func (s *Store) auditAt(t target) *auditProjection {
	return &auditProjection{s: s, t: t, sql: newAuditSQL(t.table)}
}

func (p *auditProjection) Name() string { return p.t.projection }

func (p *auditProjection) Checkpoint(ctx context.Context) (uint64, error) {
	return p.s.checkpointOf(ctx, p.t.checkpoint)
}

// Apply appends one row per message. Rows are reduced before the
// transaction starts so the checkpoint lock is held only for the writes.
func (p *auditProjection) Apply(ctx context.Context, b projections.Batch) error {
	rows, failures := reduceAudit(b, p.s.now())
	err := p.apply(ctx, b, rows, failures, true)
	if errors.Is(err, errDuplicateRow) {
		// Rows past the checkpoint already exist: someone moved the
		// checkpoint back to re-apply. Merge instead of failing forever.
		err = p.apply(ctx, b, rows, failures, false)
	}
	if err != nil {
		return fmt.Errorf("postgres: apply %s: %w", p.t.checkpoint, err)
	}
	return nil
}

// errDuplicateRow: COPY met a row already stored.
var errDuplicateRow = errors.New("audit row already stored")

// apply runs the batch's transaction. The fast way is COPY straight into the
// table, the cheapest write PostgreSQL has; it is right whenever the rows
// past the checkpoint are absent, which the checkpoint lock guarantees unless
// someone rewound the checkpoint by hand. The other way merges with ON
// CONFLICT DO NOTHING.
func (p *auditProjection) apply(ctx context.Context, b projections.Batch, rows []projections.AuditEvent, failures []projections.Failure, copyRows bool) error {
	return p.s.runBatch(ctx, b, batchTx{
		checkpoint: p.t.checkpoint,
		write: func(ctx context.Context, tx pgx.Tx, rest projections.Batch) (*pgx.Batch, error) {
			after := rest[0].Seq - 1
			rows, failures := auditAfter(rows, after), failuresAfter(failures, after)
			w := &pgx.Batch{}
			switch {
			case len(rows) == 0:
			case copyRows:
				_, err := tx.CopyFrom(ctx, pgx.Identifier{p.t.table}, auditColumnNames, copyAudit(rows))
				var pgErr *pgconn.PgError
				if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
					return nil, errDuplicateRow
				}
				if err != nil {
					return nil, fmt.Errorf("copy: %w", err)
				}
			default:
				p.sql.queueMerge(w, rows)
			}
			queueFailures(w, p.t.checkpoint, failures)
			return w, nil
		},
	})
}

// reduceAudit turns every message of b into its row, or its failure.
func reduceAudit(b projections.Batch, now time.Time) ([]projections.AuditEvent, []projections.Failure) {
	rows := make([]projections.AuditEvent, 0, len(b))
	var failures []projections.Failure
	for _, m := range b {
		row, err := projections.ReduceAuditMessage(m)
		if err != nil {
			failures = append(failures, projections.NewFailure(projections.Audit, m, err, now))
			continue
		}
		row.Seq = m.Seq
		rows = append(rows, row)
	}
	return rows, failures
}

// auditAfter drops the rows at or below seq (sorted by Seq).
func auditAfter(rows []projections.AuditEvent, seq uint64) []projections.AuditEvent {
	i := 0
	for i < len(rows) && rows[i].Seq <= seq {
		i++
	}
	return rows[i:]
}

func failuresAfter(fs []projections.Failure, seq uint64) []projections.Failure {
	i := 0
	for i < len(fs) && fs[i].Seq <= seq {
		i++
	}
	return fs[i:]
}
