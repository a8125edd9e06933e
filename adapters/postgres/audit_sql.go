package postgres

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

const auditColumns = `seq, event_id, type, user_id, actor, reason, command_id, correlation_id, occurred_at, data`

var auditColumnNames = []string{"seq", "event_id", "type", "user_id", "actor", "reason", "command_id", "correlation_id", "occurred_at", "data"}

// auditSQL is the audit projection's statements against one table.
type auditSQL struct {
	merge string
}

func newAuditSQL(table string) auditSQL {
	t := pgx.Identifier{table}.Sanitize()
	return auditSQL{
		merge: `INSERT INTO ` + t + ` (` + auditColumns + `)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
    $7::text[], $8::text[], $9::timestamptz[], $10::jsonb[])
ON CONFLICT (seq) DO NOTHING`,
	}
}

// copyAudit feeds rows to COPY.
func copyAudit(rows []projections.AuditEvent) pgx.CopyFromSource {
	return pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
		r := &rows[i]
		return []any{int64(r.Seq), r.EventID, string(r.Type), r.UserID, r.Actor, r.Reason,
			r.CommandID, r.CorrelationID, r.OccurredAt, []byte(r.Data)}, nil
	})
}

// queueMerge inserts rows, skipping those already stored.
func (q auditSQL) queueMerge(b *pgx.Batch, rows []projections.AuditEvent) {
	n := len(rows)
	seq := make([]int64, n)
	id, typ, user, actor, reason := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	cmd, corr, data := make([]string, n), make([]string, n), make([]string, n)
	at := make([]time.Time, n)
	for i, r := range rows {
		seq[i], id[i], typ[i], user[i], actor[i], reason[i] = int64(r.Seq), r.EventID, string(r.Type), r.UserID, r.Actor, r.Reason
		cmd[i], corr[i], at[i], data[i] = r.CommandID, r.CorrelationID, r.OccurredAt, string(r.Data)
	}
	b.Queue(q.merge, seq, id, typ, user, actor, reason, cmd, corr, at, data)
}

// scanAudit reads a row selected with auditColumns. jsonb gives back its own
// spacing; compacting restores the form the reducer wrote.
func scanAudit(r pgx.Row) (projections.AuditEvent, error) {
	var a projections.AuditEvent
	var seq int64
	var typ string
	var data []byte
	err := r.Scan(&seq, &a.EventID, &typ, &a.UserID, &a.Actor, &a.Reason, &a.CommandID, &a.CorrelationID, &a.OccurredAt, &data)
	if err != nil {
		return a, err
	}
	a.Seq, a.Type, a.OccurredAt = uint64(seq), events.Type(typ), a.OccurredAt.UTC()
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return a, err
	}
	a.Data = buf.Bytes()
	return a, nil
}
