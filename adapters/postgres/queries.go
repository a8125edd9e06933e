package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/userlife/userlife/projections"
)

// ListUsers returns one page of users ordered by id, after q.After.
func (s *Store) ListUsers(ctx context.Context, q projections.ListQuery) (projections.UserPage, error) {
	q, err := q.Normalize()
	if err != nil {
		return projections.UserPage{}, err
	}
	// Only the filters asked for go into the statement, so each shape gets
	// a plan that can use its index (state, id or lower(email)).
	args := []any{q.After}
	where := []string{"id > $1"}
	if q.State != "" {
		args = append(args, q.State)
		where = append(where, "state = $"+strconv.Itoa(len(args)))
	}
	if q.EmailPrefix != "" {
		args = append(args, likePrefix(q.EmailPrefix))
		where = append(where, `lower(email) LIKE lower($`+strconv.Itoa(len(args))+`) ESCAPE '\'`)
	}
	// One row more than the page says whether there is a next page.
	args = append(args, q.Limit+1)
	sql := `SELECT ` + userColumns + ` FROM users WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY id LIMIT $` + strconv.Itoa(len(args))
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return projections.UserPage{}, fmt.Errorf("postgres: list users: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (projections.User, error) { return scanUser(r) })
	if err != nil {
		return projections.UserPage{}, fmt.Errorf("postgres: list users: %w", err)
	}
	page := projections.UserPage{Users: users}
	if len(users) > q.Limit {
		page.Users = users[:q.Limit]
		page.Next = page.Users[q.Limit-1].ID
	}
	return page, nil
}

// likePrefix is the LIKE pattern of "starts with prefix": the prefix's own
// wildcards and escape character match only themselves.
func likePrefix(prefix string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(prefix) + "%"
}

// GetUser returns projections.ErrNotFound for an unknown or deleted user.
func (s *Store) GetUser(ctx context.Context, id string) (projections.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return projections.User{}, fmt.Errorf("user %s: %w", id, projections.ErrNotFound)
	}
	if err != nil {
		return projections.User{}, fmt.Errorf("postgres: get user %s: %w", id, err)
	}
	return u, nil
}

// History is the user's audit rows in stream order.
func (s *Store) History(ctx context.Context, userID string) ([]projections.AuditEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+auditColumns+` FROM audit_events WHERE user_id = $1 ORDER BY seq`, userID)
	if err != nil {
		return nil, fmt.Errorf("postgres: history of %s: %w", userID, err)
	}
	h, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (projections.AuditEvent, error) { return scanAudit(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: history of %s: %w", userID, err)
	}
	return h, nil
}
