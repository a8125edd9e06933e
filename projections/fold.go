package projections

import (
	"errors"
	"time"
)

// After returns the part of b that follows checkpoint: messages at or below
// it are dropped (redeliveries), and the rest must start at checkpoint+1.
func (b Batch) After(checkpoint uint64) (Batch, error) {
	i := 0
	for i < len(b) && b[i].Seq <= checkpoint {
		i++
	}
	rest := b[i:]
	if len(rest) > 0 && rest[0].Seq != checkpoint+1 {
		return nil, &GapError{Checkpoint: checkpoint, First: rest[0].Seq}
	}
	return rest, nil
}

// UsersTable is the users projection folded in memory: what a store must
// hold after applying the same messages. The memory store and verify use it.
type UsersTable struct {
	Rows       map[string]User
	Checkpoint uint64
	Failures   []Failure
}

// NewUsersTable returns an empty table.
func NewUsersTable() *UsersTable { return &UsersTable{Rows: make(map[string]User)} }

// Apply folds one message (the caller keeps stream order). now stamps
// failures.
func (t *UsersTable) Apply(m Message, now time.Time) {
	t.Checkpoint = m.Seq
	next, err := applyUser(t.Rows, m)
	if err != nil {
		t.Failures = append(t.Failures, failure(Users, m, err, now))
		return
	}
	if next == nil {
		delete(t.Rows, m.Event.UserID)
		return
	}
	t.Rows[next.ID] = *next
}

// applyUser is the users reducer applied to a row set; it also turns a
// decoding error into the failure to record.
func applyUser(rows map[string]User, m Message) (*User, error) {
	if m.Err != nil {
		return nil, m.Err
	}
	var cur *User
	if u, ok := rows[m.Event.UserID]; ok {
		cur = &u
	}
	return ReduceUser(cur, m.Event)
}

// AuditLog is the audit projection folded in memory.
type AuditLog struct {
	Rows       []AuditEvent
	Checkpoint uint64
	Failures   []Failure
}

// Apply folds one message.
func (a *AuditLog) Apply(m Message, now time.Time) {
	a.Checkpoint = m.Seq
	row, err := auditOf(m)
	if err != nil {
		a.Failures = append(a.Failures, failure(Audit, m, err, now))
		return
	}
	a.Rows = append(a.Rows, row)
}

func auditOf(m Message) (AuditEvent, error) {
	if m.Err != nil {
		return AuditEvent{}, m.Err
	}
	return ReduceAudit(m.Event)
}

// UserChange is what applying one message does to a users row: Row is the
// new row, or nil to delete the row of UserID.
type UserChange struct {
	UserID string
	Row    *User
}

// ReduceUserMessage is ReduceUser for a stream message: the decoding error
// if any, else the reducer's result for the given current row.
func ReduceUserMessage(cur *User, m Message) (UserChange, error) {
	if m.Err != nil {
		return UserChange{}, m.Err
	}
	row, err := ReduceUser(cur, m.Event)
	return UserChange{UserID: m.Event.UserID, Row: row}, err
}

// ReduceAuditMessage is ReduceAudit for a stream message.
func ReduceAuditMessage(m Message) (AuditEvent, error) { return auditOf(m) }

// NewFailure records why m could not be applied to projection.
func NewFailure(projection string, m Message, err error, now time.Time) Failure {
	return failure(projection, m, err, now)
}

func failure(projection string, m Message, err error, now time.Time) Failure {
	if err == nil {
		err = errors.New("unknown failure")
	}
	return Failure{Projection: projection, Seq: m.Seq, Subject: m.Subject, Error: err.Error(), Data: m.Data, At: now.UTC()}
}
