package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/userlife/userlife/projections"
	"github.com/userlife/userlife/projections/revocation"
)

const revocationColumns = `user_id, state, revoked_before, revoked_sessions, revision`

// revocationsSQL is the revocations projection's statements against one
// table.
type revocationsSQL struct {
	load, upsert string
}

func newRevocationsSQL(table string) revocationsSQL {
	t := pgx.Identifier{table}.Sanitize()
	return revocationsSQL{
		load: `SELECT ` + revocationColumns + ` FROM ` + t + ` WHERE user_id = ANY($1)`,
		// Whole arrays in one statement, as for users. unnest flattens
		// arrays of arrays, so each row's sessions travel as one jsonb
		// array and are unpacked in order. The version guard is the
		// second line of defence behind the checkpoint lock: an older
		// entry never replaces a newer one.
		upsert: `INSERT INTO ` + t + ` AS r (` + revocationColumns + `)
SELECT n.user_id, n.state, n.revoked_before,
    ARRAY(SELECT s.sid FROM jsonb_array_elements_text(n.sessions) WITH ORDINALITY AS s(sid, i) ORDER BY s.i),
    n.revision
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::jsonb[], $5::bigint[])
    AS n(user_id, state, revoked_before, sessions, revision)
ON CONFLICT (user_id) DO UPDATE SET
    state = EXCLUDED.state, revoked_before = EXCLUDED.revoked_before,
    revoked_sessions = EXCLUDED.revoked_sessions, revision = EXCLUDED.revision
WHERE r.revision < EXCLUDED.revision`,
	}
}

// queueUpsert queues one statement for every changed entry.
func (q revocationsSQL) queueUpsert(b *pgx.Batch, entries map[string]*revocation.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	n := len(entries)
	ids, states := make([]string, 0, n), make([]string, 0, n)
	before := make([]pgtype.Timestamptz, 0, n)
	sessions := make([]string, 0, n)
	revisions := make([]int64, 0, n)
	for _, e := range entries {
		sids := e.RevokedSessions
		if sids == nil {
			sids = []string{}
		}
		js, err := json.Marshal(sids)
		if err != nil {
			return err
		}
		ids, states = append(ids, e.UserID), append(states, e.State)
		before = append(before, nullTime(e.RevokedBefore))
		sessions = append(sessions, string(js))
		revisions = append(revisions, int64(e.Revision))
	}
	b.Queue(q.upsert, ids, states, before, sessions, revisions)
	return nil
}

// scanRevocation reads a row selected with revocationColumns. An entry
// without sessions has nil RevokedSessions, as the reducer makes it.
func scanRevocation(r pgx.Row) (revocation.Entry, error) {
	var e revocation.Entry
	var before pgtype.Timestamptz
	var revision int64
	err := r.Scan(&e.UserID, &e.State, &before, &e.RevokedSessions, &revision)
	e.RevokedBefore, e.Revision = utc(before), uint64(revision)
	if len(e.RevokedSessions) == 0 {
		e.RevokedSessions = nil
	}
	return e, err
}

// Revocation returns the user's revocation entry, or projections.ErrNotFound
// for a user the projection has not seen registered. A deleted user has an
// entry (state deleted).
func (s *Store) Revocation(ctx context.Context, userID string) (revocation.Entry, error) {
	e, err := scanRevocation(s.pool.QueryRow(ctx, `SELECT `+revocationColumns+` FROM revocations WHERE user_id = $1`, userID))
	if errors.Is(err, pgx.ErrNoRows) {
		return revocation.Entry{}, fmt.Errorf("revocation %s: %w", userID, projections.ErrNotFound)
	}
	if err != nil {
		return revocation.Entry{}, fmt.Errorf("postgres: revocation %s: %w", userID, err)
	}
	return e, nil
}
