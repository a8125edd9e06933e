package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// AuditRow reads the record's envelope into an audit row; the payload is
// kept as stored, so events of types this build does not know are rows too.
func (r Record) AuditRow() (projections.AuditEvent, error) {
	env, err := r.envelope()
	if err != nil {
		return projections.AuditEvent{}, fmt.Errorf("seq %d (%s): %w: %v", r.Seq, r.Subject, events.ErrMalformedEvent, err)
	}
	if env.Type == "" || env.UserID == "" {
		return projections.AuditEvent{}, fmt.Errorf("seq %d (%s): %w: no type or user_id", r.Seq, r.Subject, events.ErrMalformedEvent)
	}
	data := env.Data
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	return projections.AuditEvent{
		Seq: r.Seq, EventID: env.ID, Type: env.Type, UserID: env.UserID, Actor: env.Actor, Reason: env.Reason,
		CommandID: env.CommandID, CorrelationID: env.CorrelationID, OccurredAt: env.OccurredAt.UTC(), Data: data,
	}, nil
}

// UndecodableError reports stored messages an audit skipped because their
// envelope could not be read; everything else was delivered. `userlife
// export` carries such messages verbatim.
type UndecodableError struct {
	Seqs []uint64 // the first ones, at most 20
	N    int
}

func (e *UndecodableError) Unwrap() error { return projections.ErrUndecodable }

func (e *UndecodableError) Error() string {
	s := make([]string, len(e.Seqs))
	for i, q := range e.Seqs {
		s[i] = fmt.Sprint(q)
	}
	return fmt.Sprintf("%d stored message(s) could not be read as events and were skipped (seq %s)", e.N, strings.Join(s, ", "))
}

// Audit calls fn with each matching event as an audit row, in stream
// order. Messages that do not read as events are skipped and reported at
// the end as an *UndecodableError, after every other row was delivered.
//
// Sealed personal fields are opened as the history query opens them (the
// email, or "[erased]" once the user was deleted); a scan over every user
// reads all data keys at once first.
func (l *AuditLog) Audit(ctx context.Context, q projections.AuditQuery, fn func(projections.AuditEvent) error) error {
	if err := q.Validate(); err != nil {
		return err
	}
	var open *opener
	if len(q.Types) == 0 || slices.Contains(q.Types, events.TypeUserRegistered) {
		var err error
		if open, err = l.newOpener(ctx, q.UserID == ""); err != nil {
			return err
		}
		if q.UserID != "" {
			open.prefetch(ctx, q.UserID)
		}
	}
	var bad UndecodableError
	err := l.Scan(ctx, q, func(r Record) error {
		row, err := r.AuditRow()
		if err != nil {
			bad.N++
			if len(bad.Seqs) < 20 {
				bad.Seqs = append(bad.Seqs, r.Seq)
			}
			return nil
		}
		if open != nil {
			if err := open.row(ctx, &row); err != nil {
				return err
			}
		}
		return fn(row)
	})
	if err == nil && bad.N > 0 {
		return &bad
	}
	return err
}

// StateAt folds the user's events whose occurred_at is at or before at, in
// stream order, with the users reducer. The fold stops at the first event
// after at: a state is always that of a prefix of the history. A user with
// no event by then is a *projections.NotFoundAtError.
func (l *AuditLog) StateAt(ctx context.Context, userID string, at time.Time) (projections.UserAt, error) {
	if !events.ValidID(userID) {
		return projections.UserAt{}, fmt.Errorf("user id %q: want [A-Za-z0-9_-]{1,64}", userID)
	}
	open, err := l.newOpener(ctx, false)
	if err != nil {
		return projections.UserAt{}, err
	}
	open.prefetch(ctx, userID)
	recs, err := l.userRecords(ctx, userID, nil)
	if err != nil {
		return projections.UserAt{}, err
	}
	out := projections.UserAt{At: at.UTC(), History: []projections.AuditEvent{}}
	var fold projections.UserFold
	var registeredAt time.Time
	for _, r := range recs {
		e, err := events.Decode(r.Data)
		if err != nil {
			row, rerr := r.AuditRow()
			if rerr != nil {
				fold.Fail(r.Seq, err)
				continue
			}
			if row.OccurredAt.After(at) {
				break
			}
			out.History = append(out.History, row)
			if !errors.Is(err, events.ErrUnknownEventType) {
				fold.Fail(r.Seq, err) // a type this build does not know changes no state
			}
			continue
		}
		e.Seq = r.Seq
		if e, err = open.event(ctx, e); err != nil {
			if !errors.Is(err, events.ErrUnsealable) {
				return projections.UserAt{}, err
			}
			fold.Fail(r.Seq, err)
			continue
		}
		if e.Type == events.TypeUserRegistered && registeredAt.IsZero() {
			registeredAt = e.OccurredAt
		}
		if e.OccurredAt.After(at) {
			break
		}
		if row, err := r.AuditRow(); err == nil {
			if err := open.row(ctx, &row); err != nil {
				return projections.UserAt{}, err
			}
			out.History = append(out.History, row)
		}
		fold.Apply(e)
	}
	out.Failures = fold.Failures
	if fold.Row == nil {
		return out, &projections.NotFoundAtError{UserID: userID, At: at, RegisteredAt: registeredAt}
	}
	out.User = *fold.Row
	return out, nil
}

// ListAt lists the users that were in state at the instant at, ordered by
// id: one reading of the stream from the start, folding every user's
// events up to at.
func (l *AuditLog) ListAt(ctx context.Context, state string, at time.Time) ([]projections.User, error) {
	if err := projections.ValidStateAt(state); err != nil {
		return nil, err
	}
	open, err := l.newOpener(ctx, true)
	if err != nil {
		return nil, err
	}
	folds := make(map[string]*projections.UserFold)
	ended := make(map[string]bool) // users with an event after at: their later events are ignored
	err = l.scanStream(ctx, streamScan{until: at}, nil, func(r Record) error {
		e, err := events.Decode(r.Data)
		if err != nil {
			return nil // neither a state change nor a time to place it by
		}
		if e, err = open.event(ctx, e); err != nil {
			if errors.Is(err, events.ErrUnsealable) {
				return nil // refused as the users projection refuses it
			}
			return err
		}
		if ended[e.UserID] {
			return nil
		}
		if e.OccurredAt.After(at) {
			ended[e.UserID] = true
			return nil
		}
		e.Seq = r.Seq
		f := folds[e.UserID]
		if f == nil {
			f = &projections.UserFold{}
			folds[e.UserID] = f
		}
		f.Apply(e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []projections.User
	for _, f := range folds {
		if f.Row != nil && f.Row.State == state {
			out = append(out, *f.Row)
		}
	}
	slices.SortFunc(out, func(a, b projections.User) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
