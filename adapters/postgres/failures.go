package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/userlife/userlife/projections"
)

// queueFailures records messages a projection could not apply. A message
// that fails again (e.g. on a replay) keeps its first time and counts up.
func queueFailures(b *pgx.Batch, checkpoint string, fs []projections.Failure) {
	if len(fs) == 0 {
		return
	}
	seqs := make([]int64, len(fs))
	subjects := make([]string, len(fs))
	errs := make([]string, len(fs))
	data := make([][]byte, len(fs))
	for i, f := range fs {
		seqs[i], subjects[i], errs[i], data[i] = int64(f.Seq), f.Subject, f.Error, f.Data
	}
	b.Queue(`
INSERT INTO failed_events AS f (projection, seq, subject, error, data, failures, first_failed_at, last_failed_at)
SELECT $1, n.seq, n.subject, n.error, n.data, 1, $6, $6
FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bytea[]) AS n(seq, subject, error, data)
ON CONFLICT (projection, seq) DO UPDATE SET
    failures = f.failures + 1, subject = EXCLUDED.subject, error = EXCLUDED.error,
    data = EXCLUDED.data, last_failed_at = EXCLUDED.last_failed_at`,
		checkpoint, seqs, subjects, errs, data, fs[0].At)
}

// Failures lists what the users and audit projections recorded as failed, by
// projection and stream sequence. At is the last time the message failed.
// The revocations projection's failures stay in failed_events (projection
// "revocations") but are not listed: the fold verify compares with has no
// revocations view.
func (s *Store) Failures(ctx context.Context) ([]projections.Failure, error) {
	rows, err := s.pool.Query(ctx, `
SELECT projection, seq, subject, error, data, last_failed_at
FROM failed_events WHERE projection = ANY($1) ORDER BY projection, seq`, projections.Names())
	if err != nil {
		return nil, fmt.Errorf("postgres: failures: %w", err)
	}
	fs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (projections.Failure, error) {
		var f projections.Failure
		var seq int64
		err := r.Scan(&f.Projection, &seq, &f.Subject, &f.Error, &f.Data, &f.At)
		f.Seq, f.At = uint64(seq), f.At.UTC()
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: failures: %w", err)
	}
	return fs, nil
}

// Positions returns every projection's checkpoint, the revocations
// projection's included; one never applied is at 0.
func (s *Store) Positions(ctx context.Context) (map[string]uint64, error) {
	names := append(projections.Names(), RevocationsProjection)
	pos := make(map[string]uint64, len(names))
	for _, n := range names {
		pos[n] = 0
	}
	rows, err := s.pool.Query(ctx, `SELECT name, position FROM projection_checkpoints WHERE name = ANY($1)`, names)
	if err != nil {
		return nil, fmt.Errorf("postgres: positions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var p int64
		if err := rows.Scan(&name, &p); err != nil {
			return nil, fmt.Errorf("postgres: positions: %w", err)
		}
		pos[name] = uint64(p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: positions: %w", err)
	}
	return pos, nil
}
