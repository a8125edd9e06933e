package projections_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

const uid = "0195924c-1111-7abc-8def-0123456789ab"

// Instants used across the tests, in lifecycle order.
var (
	t0 = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Minute)
	t2 = t0.Add(2 * time.Minute)
	t3 = t0.Add(3 * time.Minute)
)

func stamp(t time.Time) string { return t.Format(time.RFC3339Nano) }

// envelope is a literal JSON event of user uid, as it sits in the stream.
func envelope(typ events.Type, at time.Time, data string) string {
	return fmt.Sprintf(`{"id":"evt-%s-%d","type":%q,"user_id":%q,"occurred_at":%q,`+
		`"actor":"admin@example.com","reason":"ticket 7","command_id":"cmd-1",`+
		`"correlation_id":"corr-1","data":%s}`, typ, at.Unix(), typ, uid, stamp(at), data)
}

// revoking is the data of an event that carries revoked_before.
func revoking(rb time.Time) string { return fmt.Sprintf(`{"revoked_before":%q}`, stamp(rb)) }

// decode reads a literal envelope as the projector does, with Seq set.
func decode(t *testing.T, seq uint64, js string) events.Event {
	t.Helper()
	e, err := events.Decode([]byte(js))
	if err != nil {
		t.Fatalf("events.Decode(%s): %v", js, err)
	}
	e.Seq = seq
	return e
}

// message is a decoded stream message at seq.
func message(t *testing.T, seq uint64, js string) projections.Message {
	t.Helper()
	e := decode(t, seq, js)
	return projections.Message{Seq: seq, Subject: events.EventSubject(e.UserID, e.Type), Data: []byte(js), Event: e}
}

// poison is a stream message that did not decode.
func poison(seq uint64, err error) projections.Message {
	return projections.Message{Seq: seq, Subject: events.EventSubjectPrefix + uid + ".Nope", Data: []byte("{"), Err: err}
}

// bogus is an event of a type no reducer knows.
func bogus(seq uint64) events.Event {
	return events.Event{ID: "evt-bogus", Type: "Bogus", UserID: uid, OccurredAt: t0, Actor: "a", CommandID: "c", Seq: seq}
}

func ptr[T any](v T) *T { return &v }

func showUser(u *projections.User) string {
	if u == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%+v", *u)
}

func minutes(n uint64) time.Duration { return time.Duration(n) * time.Minute }
