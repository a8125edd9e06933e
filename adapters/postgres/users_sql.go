package postgres

import (
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/userlife/userlife/projections"
)

const userColumns = `id, email, state, registered_at, confirmed_at, disabled_at, deleted_at, revoked_before, version, updated_at`

// usersSQL is the users projection's statements against one table.
type usersSQL struct {
	load, upsert, update, delete string
}

func newUsersSQL(table string) usersSQL {
	t := pgx.Identifier{table}.Sanitize()
	return usersSQL{
		load: `SELECT ` + userColumns + ` FROM ` + t + ` WHERE id = ANY($1)`,
		// Whole arrays in one statement: one round trip and one plan for
		// thousands of rows. The version guard is the second line of
		// defence behind the checkpoint lock: an older row never replaces
		// a newer one.
		upsert: `INSERT INTO ` + t + ` AS u (` + userColumns + `)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
    $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::bigint[], $10::timestamptz[])
ON CONFLICT (id) DO UPDATE SET
    email = EXCLUDED.email, state = EXCLUDED.state, registered_at = EXCLUDED.registered_at,
    confirmed_at = EXCLUDED.confirmed_at, disabled_at = EXCLUDED.disabled_at,
    deleted_at = EXCLUDED.deleted_at, revoked_before = EXCLUDED.revoked_before,
    version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
WHERE u.version < EXCLUDED.version`,
		// Rows the batch found stored are updated rather than upserted:
		// ON CONFLICT would first try an insert, then lock the row (a WAL
		// record of its own), then update it.
		// id = ANY($1) hands the planner an index condition on users: with
		// only the join it may hash the whole table (an unnest of a
		// parameter is estimated at 10 rows, a fresh table has no stats).
		update: `UPDATE ` + t + ` AS u SET
    email = n.email, state = n.state, registered_at = n.registered_at,
    confirmed_at = n.confirmed_at, disabled_at = n.disabled_at,
    deleted_at = n.deleted_at, revoked_before = n.revoked_before,
    version = n.version, updated_at = n.updated_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
    $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::bigint[], $10::timestamptz[])
    AS n(` + userColumns + `)
WHERE u.id = ANY($1) AND u.id = n.id AND u.version < n.version`,
		delete: `DELETE FROM ` + t + ` AS u USING unnest($1::text[], $2::bigint[]) AS d(id, seq)
WHERE u.id = ANY($1) AND u.id = d.id AND u.version < d.seq`,
	}
}

// userWrites are a set of changes sorted by what they do to the table.
type userWrites struct {
	insert, update userColumnsArrays // rows new to the table; rows it holds
	deleteIDs      []string
	deleteSeqs     []int64 // the sequence that deleted each
}

func sortChanges(changes map[string]*userChange) userWrites {
	var w userWrites
	for id, c := range changes {
		switch {
		case c.row != nil && c.changed && c.stored:
			w.update.add(*c.row)
		case c.row != nil && c.changed:
			w.insert.add(*c.row)
		case c.row == nil && c.stored:
			w.deleteIDs = append(w.deleteIDs, id)
			w.deleteSeqs = append(w.deleteSeqs, int64(c.deleted))
		}
	}
	return w
}

// queueWrites queues at most one statement per kind of change: a batch of
// thousands of users costs three statements in one round trip.
func (q usersSQL) queueWrites(b *pgx.Batch, changes map[string]*userChange) {
	w := sortChanges(changes)
	if len(w.insert.id) > 0 {
		b.Queue(q.upsert, w.insert.args()...)
	}
	q.queueUpdatesAndDeletes(b, w)
}

func (q usersSQL) queueUpdatesAndDeletes(b *pgx.Batch, w userWrites) {
	if len(w.update.id) > 0 {
		b.Queue(q.update, w.update.args()...)
	}
	if len(w.deleteIDs) > 0 {
		b.Queue(q.delete, w.deleteIDs, w.deleteSeqs)
	}
}

// userColumnsArrays holds rows column by column, as unnest wants them.
type userColumnsArrays struct {
	id, email, state                      []string
	registered, updated                   []time.Time
	confirmed, disabled, deleted, revoked []pgtype.Timestamptz
	version                               []int64
}

// args are the arrays in userColumns order.
func (a *userColumnsArrays) args() []any {
	return []any{a.id, a.email, a.state, a.registered, a.confirmed, a.disabled, a.deleted, a.revoked, a.version, a.updated}
}

// copySource feeds the rows to COPY, in userColumns order.
func (a *userColumnsArrays) copySource() pgx.CopyFromSource {
	return pgx.CopyFromSlice(len(a.id), func(i int) ([]any, error) {
		return []any{a.id[i], a.email[i], a.state[i], a.registered[i], a.confirmed[i], a.disabled[i],
			a.deleted[i], a.revoked[i], a.version[i], a.updated[i]}, nil
	})
}

func (a *userColumnsArrays) add(u projections.User) {
	a.id = append(a.id, u.ID)
	a.email = append(a.email, u.Email)
	a.state = append(a.state, u.State)
	a.registered = append(a.registered, u.RegisteredAt)
	a.confirmed = append(a.confirmed, nullTime(u.ConfirmedAt))
	a.disabled = append(a.disabled, nullTime(u.DisabledAt))
	a.deleted = append(a.deleted, nullTime(u.DeletedAt))
	a.revoked = append(a.revoked, nullTime(u.RevokedBefore))
	a.version = append(a.version, int64(u.Version))
	a.updated = append(a.updated, u.UpdatedAt)
}

// nullTime maps the zero time (the read models' "never") to NULL.
func nullTime(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// scanUser reads a row selected with userColumns. Times come back in UTC,
// as events carry them.
func scanUser(r pgx.Row) (projections.User, error) {
	var u projections.User
	var confirmed, disabled, deleted, revoked pgtype.Timestamptz
	var version int64
	err := r.Scan(&u.ID, &u.Email, &u.State, &u.RegisteredAt, &confirmed, &disabled, &deleted, &revoked, &version, &u.UpdatedAt)
	u.RegisteredAt, u.UpdatedAt = u.RegisteredAt.UTC(), u.UpdatedAt.UTC()
	u.ConfirmedAt, u.DisabledAt = utc(confirmed), utc(disabled)
	u.DeletedAt, u.RevokedBefore = utc(deleted), utc(revoked)
	u.Version = uint64(version)
	return u, err
}

func utc(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}
