package memory

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/userlife/userlife/projections"
)

// ListUsers filters every row and sorts the matches after the cursor by
// id: O(n) to scan plus O(m log m) to sort m matches, per page. No ordered
// index is kept because every registration or deletion would pay for it
// and a replay would pay O(n²); the embedded store serves small
// deployments, and PostgreSQL is the answer for large ones.
func (s *Store) ListUsers(_ context.Context, q projections.ListQuery) (projections.UserPage, error) {
	q, err := q.Normalize()
	if err != nil {
		return projections.UserPage{}, err
	}
	prefix := strings.ToLower(q.EmailPrefix)
	var match []projections.User
	s.mu.RLock()
	for id, u := range s.users.Rows {
		if id > q.After && (q.State == "" || u.State == q.State) && strings.HasPrefix(strings.ToLower(u.Email), prefix) {
			match = append(match, u)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(match, func(a, b projections.User) int { return cmp.Compare(a.ID, b.ID) })
	page := projections.UserPage{Users: match}
	if len(match) > q.Limit {
		page.Users = match[:q.Limit:q.Limit]
		page.Next = page.Users[q.Limit-1].ID
	}
	if page.Users == nil {
		page.Users = []projections.User{}
	}
	return page, nil
}

// GetUser returns the user's row; ErrNotFound for an unknown or deleted user.
func (s *Store) GetUser(_ context.Context, id string) (projections.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users.Rows[id]
	if !ok {
		return projections.User{}, fmt.Errorf("user %s: %w", id, projections.ErrNotFound)
	}
	return u, nil
}

// History returns the user's audit rows in stream order, empty for a user
// the audit has not seen.
func (s *Store) History(_ context.Context, userID string) ([]projections.AuditEvent, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := slices.Clone(s.history[userID])
	if out == nil {
		out = []projections.AuditEvent{}
	}
	for i := range out {
		out[i].Data = bytes.Clone(out[i].Data)
	}
	return out, nil
}

// Failures lists both projections' failures, by sequence.
func (s *Store) Failures(context.Context) ([]projections.Failure, error) {
	s.mu.RLock()
	out := make([]projections.Failure, 0, len(s.users.Failures)+len(s.audit.Failures))
	out = append(out, s.users.Failures...)
	out = append(out, s.audit.Failures...)
	s.mu.RUnlock()
	for i := range out {
		out[i].Data = bytes.Clone(out[i].Data)
	}
	slices.SortStableFunc(out, func(a, b projections.Failure) int {
		return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.Projection, b.Projection))
	})
	return out, nil
}

// Positions returns each projection's checkpoint by name.
func (s *Store) Positions(context.Context) (map[string]uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return map[string]uint64{projections.Users: s.users.Checkpoint, projections.Audit: s.audit.Checkpoint}, nil
}
