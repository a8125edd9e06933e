package memory

import (
	"bytes"
	"context"
	"sync"
	"time"

	"github.com/userlife/userlife/projections"
)

// Store keeps the users and audit projections in memory. The rows come
// from the reference folds of the projections package (UsersTable,
// AuditLog), so the memory store is that fold plus a lock, the audit rows
// kept by user, and the queries.
type Store struct {
	now func() time.Time

	// mu guards everything below. Apply holds it for a whole batch, so a
	// reader sees a projection at a batch boundary, never halfway.
	mu      sync.RWMutex
	users   *projections.UsersTable
	audit   *projections.AuditLog
	history map[string][]projections.AuditEvent // user id → its audit rows, in stream order
}

// New returns empty stores.
func New() *Store {
	s := &Store{now: time.Now}
	s.reset()
	return s
}

var (
	_ projections.Queries    = (*Store)(nil)
	_ projections.Projection = usersProjection{}
	_ projections.Projection = auditProjection{}
)

// Reset empties both projections and their failures, back to checkpoint 0.
// A replay builds a new Store aside and swaps it in; Reset is for a caller
// that rebuilds in place.
func (s *Store) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
}

func (s *Store) reset() {
	s.users = projections.NewUsersTable()
	s.audit = &projections.AuditLog{}
	s.history = make(map[string][]projections.AuditEvent)
}

// Users is the users projection.
func (s *Store) Users() projections.Projection { return usersProjection{s} }

// Audit is the audit projection.
func (s *Store) Audit() projections.Projection { return auditProjection{s} }

type usersProjection struct{ s *Store }

func (p usersProjection) Name() string { return projections.Users }

func (p usersProjection) Checkpoint(context.Context) (uint64, error) {
	p.s.mu.RLock()
	defer p.s.mu.RUnlock()
	return p.s.users.Checkpoint, nil
}

// Apply folds the batch under the write lock. After checks the whole batch
// against the checkpoint before anything changes, and folding cannot fail
// (a message that does not apply becomes a failure), so the batch applies
// whole or, on a gap or a canceled context, not at all.
func (p usersProjection) Apply(ctx context.Context, b projections.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rest, err := b.After(s.users.Checkpoint)
	if err != nil || len(rest) == 0 {
		return err
	}
	now, failed := s.now(), len(s.users.Failures)
	for _, m := range rest {
		s.users.Apply(m, now)
	}
	ownData(s.users.Failures[failed:])
	return nil
}

type auditProjection struct{ s *Store }

func (p auditProjection) Name() string { return projections.Audit }

func (p auditProjection) Checkpoint(context.Context) (uint64, error) {
	p.s.mu.RLock()
	defer p.s.mu.RUnlock()
	return p.s.audit.Checkpoint, nil
}

// Apply is as for users; it also indexes the new rows by user.
func (p auditProjection) Apply(ctx context.Context, b projections.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rest, err := b.After(s.audit.Checkpoint)
	if err != nil || len(rest) == 0 {
		return err
	}
	now, failed := s.now(), len(s.audit.Failures)
	for _, m := range rest {
		s.audit.Apply(m, now)
	}
	// The fold's rows move to their users' histories: one log-long slice
	// would be copied again at every growth.
	for _, r := range s.audit.Rows {
		s.history[r.UserID] = append(s.history[r.UserID], r)
	}
	clear(s.audit.Rows)
	s.audit.Rows = s.audit.Rows[:0]
	ownData(s.audit.Failures[failed:])
	return nil
}

// ownData copies the message bytes new failures refer to, so the store
// does not depend on the caller leaving its buffers alone.
func ownData(fs []projections.Failure) {
	for i := range fs {
		fs[i].Data = bytes.Clone(fs[i].Data)
	}
}
