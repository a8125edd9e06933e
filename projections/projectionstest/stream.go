package projectionstest

import (
	"fmt"
	"testing"
	"time"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// epoch is the first event's time. Times advance in whole microseconds,
// the precision PostgreSQL keeps.
var epoch = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

// stream builds the messages of an event stream, sequences 1..n, as a
// projector reads them: each event is encoded and decoded again, so the
// stores see exactly what comes off the wire.
type stream struct {
	t    *testing.T
	msgs []projections.Message
}

func newStream(t *testing.T) *stream { return &stream{t: t} }

func (s *stream) next() uint64 { return uint64(len(s.msgs)) + 1 }

func (s *stream) at(seq uint64) time.Time {
	return epoch.Add(time.Duration(seq) * 1001 * time.Microsecond)
}

// event appends an event about userID and returns its message.
func (s *stream) event(userID string, p events.Payload, reason string) projections.Message {
	s.t.Helper()
	seq := s.next()
	e := events.Event{
		ID: fmt.Sprintf("evt-%d", seq), Type: p.EventType(), UserID: userID, OccurredAt: s.at(seq),
		Actor: "admin@example.com", Reason: reason, CommandID: fmt.Sprintf("cmd-%d", seq), Data: p,
	}
	if seq%3 == 0 {
		e.CorrelationID = fmt.Sprintf("corr-%d", seq)
	}
	data, err := events.Encode(e)
	if err != nil {
		s.t.Fatalf("events.Encode(%s): %v", e.Type, err)
	}
	dec, err := events.Decode(data)
	if err != nil {
		s.t.Fatalf("events.Decode(%s): %v", data, err)
	}
	dec.Seq = seq
	m := projections.Message{Seq: seq, Subject: events.EventSubject(userID, e.Type), Data: data, Event: dec}
	s.msgs = append(s.msgs, m)
	return m
}

func (s *stream) register(id, email string) projections.Message {
	s.t.Helper()
	return s.event(id, events.UserRegistered{Email: email}, "")
}
func (s *stream) confirm(id string) projections.Message {
	s.t.Helper()
	return s.event(id, events.UserConfirmed{}, "")
}
func (s *stream) disable(id string) projections.Message {
	s.t.Helper()
	return s.event(id, events.UserDisabled{RevokedBefore: s.at(s.next())}, "abuse report")
}
func (s *stream) enable(id string) projections.Message {
	s.t.Helper()
	return s.event(id, events.UserEnabled{}, "appeal accepted")
}
func (s *stream) revoke(id string) projections.Message {
	s.t.Helper()
	return s.event(id, events.SessionsRevoked{RevokedBefore: s.at(s.next())}, "laptop stolen")
}
func (s *stream) delete(id string) projections.Message {
	s.t.Helper()
	return s.event(id, events.UserDeleted{RevokedBefore: s.at(s.next())}, "erasure request")
}

// undecodable appends a message that did not decode.
func (s *stream) purged(id, service string, items int64) projections.Message {
	return s.event(id, events.UserDataPurged{Service: service, ItemsRemoved: items}, "")
}
func (s *stream) undecodable() projections.Message {
	seq := s.next()
	m := projections.Message{
		Seq: seq, Subject: events.EventSubject("broken", events.TypeUserConfirmed), Data: []byte(`{"type":`),
		Err: fmt.Errorf("%w: unexpected end of JSON input", events.ErrMalformedEvent),
	}
	s.msgs = append(s.msgs, m)
	return m
}

// unknown appends an event of a type no reducer knows (a newer producer's).
func (s *stream) unknown(userID string) projections.Message {
	seq := s.next()
	e := events.Event{ID: fmt.Sprintf("evt-%d", seq), Type: "Bogus", UserID: userID, OccurredAt: s.at(seq), Actor: "a", CommandID: "c", Seq: seq}
	m := projections.Message{Seq: seq, Subject: events.EventSubject(userID, e.Type), Data: []byte(`{"type":"Bogus"}`), Event: e}
	s.msgs = append(s.msgs, m)
	return m
}

// all is every message so far, as one batch.
func (s *stream) all() projections.Batch { return projections.Batch(s.msgs) }

// span is the messages with sequences from..to, inclusive.
func (s *stream) span(from, to uint64) projections.Batch {
	if from < 1 || to > uint64(len(s.msgs)) || from > to {
		s.t.Fatalf("span(%d, %d) of a stream of %d messages", from, to, len(s.msgs))
	}
	return projections.Batch(s.msgs[from-1 : to])
}
