package nats

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// scanUser reads one user's events with direct gets and the stream's
// subject counts, both answered from the server's per-subject index. No
// consumer is created.
func (l *AuditLog) scanUser(ctx context.Context, q projections.AuditQuery, match func(*Record) bool, fn func(Record) error) error {
	recs, err := l.userRecords(ctx, q.UserID, q.Types)
	if err != nil {
		return err
	}
	prog := ScanProgress{Total: uint64(len(recs))}
	began := time.Now()
	for _, r := range recs {
		prog.Scanned++
		if match == nil || match(&r) {
			prog.Matched++
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	if l.cfg.Progress != nil {
		prog.Elapsed, prog.Done = time.Since(began), true
		l.cfg.Progress(prog)
	}
	return nil
}

// userRecords returns the user's stored messages of the given types (all
// when none), in stream order, with two requests answered side by side:
// the stream's subject counts under userlife.events.<id>.* (from the
// server's subject index) and the last message of each known event type's
// subject. A subject that held one message, no later than the stream's
// last sequence the counts were taken at, is then complete; any other
// subject (several events, a type this build does not know, an append in
// between) is read with direct batch gets, all asked for before any
// answer is read.
func (l *AuditLog) userRecords(ctx context.Context, userID string, types []events.Type) ([]Record, error) {
	known := types
	if len(known) == 0 {
		known = events.Types()
	}
	literal := make([]string, 0, len(known))
	for _, t := range known {
		if s := events.EventSubject(userID, t); !slices.Contains(literal, s) {
			literal = append(literal, s)
		}
	}
	lasts, err := jetstreamext.GetLastMsgsFor(ctx, l.js, EventsStream, literal)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", userID, err)
	}
	s, err := l.js.Stream(ctx, EventsStream)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", userID, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(events.UserEventsFilter(userID)))
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", userID, err)
	}
	counts := info.State.Subjects
	if len(types) > 0 {
		for subj := range counts {
			if _, t, ok := events.ParseEventSubject(subj); !ok || !slices.Contains(types, t) {
				delete(counts, subj)
			}
		}
	}
	var out []Record
	answered := false
	for m, err := range lasts {
		answered = true
		if errors.Is(err, jetstreamext.ErrNoMessages) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("history of %s: last events: %w", userID, err)
		}
		if counts[m.Subject] == 1 && m.Sequence <= info.State.LastSeq {
			out = append(out, rawRecord(m))
			delete(counts, m.Subject)
		}
	}
	if !answered && len(counts) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("history of %s: %w", userID, err)
		}
		return nil, fmt.Errorf("history of %s: no answer from stream %s: %w", userID, EventsStream, nats.ErrTimeout)
	}
	more := slices.Sorted(maps.Keys(counts))
	firsts := make([]iter.Seq2[*jetstream.RawStreamMsg, error], len(more))
	for i, subj := range more {
		if firsts[i], err = jetstreamext.GetBatch(ctx, l.js, EventsStream, loadBatch,
			jetstreamext.GetBatchSubject(subj), jetstreamext.GetBatchSeq(1)); err != nil {
			return nil, fmt.Errorf("history of %s: %w", userID, err)
		}
	}
	for i, subj := range more {
		var err error
		if out, err = l.subjectRecords(ctx, subj, firsts[i], out); err != nil {
			return nil, fmt.Errorf("history of %s: %w", userID, err)
		}
	}
	slices.SortFunc(out, func(a, b Record) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}

// subjectRecords appends every message of one literal subject to out,
// starting with the answer to a first batch already asked for.
func (l *AuditLog) subjectRecords(ctx context.Context, subject string, msgs iter.Seq2[*jetstream.RawStreamMsg, error], out []Record) ([]Record, error) {
	seq := uint64(1)
	for {
		var pending uint64
		n := 0
		for m, err := range msgs {
			if errors.Is(err, jetstreamext.ErrNoMessages) {
				return out, nil
			}
			if err != nil {
				return nil, err
			}
			out = append(out, rawRecord(m))
			seq = m.Sequence + 1
			pending, _ = strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			n++
		}
		if n == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("no answer from stream %s for %s after seq %d: %w", EventsStream, subject, seq-1, nats.ErrTimeout)
		}
		if pending == 0 {
			return out, nil
		}
		var err error
		if msgs, err = jetstreamext.GetBatch(ctx, l.js, EventsStream, loadBatch,
			jetstreamext.GetBatchSubject(subject), jetstreamext.GetBatchSeq(seq)); err != nil {
			return nil, err
		}
	}
}

// directGetHeaders are the headers a direct get adds to a stored message.
var directGetHeaders = []string{"Nats-Stream", "Nats-Sequence", "Nats-Time-Stamp", "Nats-Subject", "Nats-Num-Pending", "Nats-Last-Sequence", "Nats-UpTo-Sequence"}

func rawRecord(m *jetstream.RawStreamMsg) Record {
	h := m.Header
	if h != nil {
		h = maps.Clone(h)
		for _, k := range directGetHeaders {
			h.Del(k)
		}
		if len(h) == 0 {
			h = nil
		}
	}
	r := Record{Seq: m.Sequence, Subject: m.Subject, Stored: m.Time, Data: m.Data, Header: h}
	r.UserID, r.Type, _ = events.ParseEventSubject(m.Subject)
	return r
}
