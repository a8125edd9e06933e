package nats_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// manyUsers makes a log of n events over users users by three actors, every
// type represented, occurred_at a little after now and increasing (as the
// service writes it: the decision shortly before the store).
func manyUsers(rng *rand.Rand, users, n int) []events.Event {
	actors := []string{"alice", "bob", "carol"}
	at := time.Now().UTC()
	out := make([]events.Event, 0, n)
	for i := range n {
		at = at.Add(time.Duration(rng.IntN(3)) * time.Microsecond) // sometimes the same instant twice
		u := fmt.Sprintf("u-%03d", rng.IntN(users))
		var p events.Payload
		switch rng.IntN(7) {
		case 0:
			p = events.UserRegistered{Email: u + "@example.com"}
		case 1:
			p = events.UserConfirmed{}
		case 2:
			p = events.UserDisabled{RevokedBefore: at}
		case 3:
			p = events.UserEnabled{}
		case 4:
			p = events.UserDeleted{RevokedBefore: at}
		case 5:
			p = events.SessionsRevoked{RevokedBefore: at}
		default:
			p = events.SessionRevoked{SessionID: fmt.Sprintf("s-%d", i)}
		}
		out = append(out, events.Event{
			ID: fmt.Sprintf("ev-%d", i), Type: p.EventType(), UserID: u, OccurredAt: at,
			Actor: actors[rng.IntN(len(actors))], Reason: fmt.Sprintf("reason %d", i), CommandID: fmt.Sprintf("c-%d", i), Data: p,
		})
	}
	return out
}

func auditRows(t *testing.T, l *natsadapter.AuditLog, q projections.AuditQuery) []projections.AuditEvent {
	t.Helper()
	var rows []projections.AuditEvent
	if err := l.Audit(testContext(t), q, func(r projections.AuditEvent) error {
		rows = append(rows, r)
		return nil
	}); err != nil {
		t.Fatalf("Audit(%+v): %v", q, err)
	}
	return rows
}

// TestAuditFilters runs filter combinations against a stream of many users
// and checks each answer against the plain filter applied to a full read.
func TestAuditFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(6, 1))
	evs := manyUsers(rng, 120, 3000)
	natstest.PublishEvents(t, e.js, evs)
	var last natsadapter.ScanProgress
	l := natsadapter.NewAuditLog(e.js, natsadapter.AuditConfig{Progress: func(p natsadapter.ScanProgress) { last = p }})

	all := auditRows(t, l, projections.AuditQuery{})
	if len(all) != len(evs) {
		t.Fatalf("full read: %d rows, want %d", len(all), len(evs))
	}
	for i, r := range all {
		want, _ := projections.ReduceAudit(withSeq(evs[i], uint64(i+1)))
		if r.Seq != want.Seq || r.EventID != want.EventID || r.Type != want.Type || r.UserID != want.UserID ||
			r.Actor != want.Actor || r.Reason != want.Reason || !r.OccurredAt.Equal(want.OccurredAt) || string(r.Data) != string(want.Data) {
			t.Fatalf("row %d = %+v, want %+v", i, r, want)
		}
	}
	at := func(i int) time.Time { return evs[i].OccurredAt }
	queries := []projections.AuditQuery{
		{UserID: "u-007"},
		{UserID: "u-007", Types: []events.Type{events.TypeUserDisabled, events.TypeSessionsRevoked}},
		{UserID: "u-nobody"},
		{Types: []events.Type{events.TypeUserDeleted}},
		{Types: []events.Type{events.TypeUserRegistered, events.TypeUserConfirmed}},
		{Types: []events.Type{"UserDataPurged"}}, // a type this build does not know: nothing yet
		{Actor: "bob"},
		{Actor: "nobody"},
		{Since: at(1000)},
		{Until: at(1000)},
		{Since: at(700), Until: at(2100)},
		{Since: at(2999), Until: at(2999)},
		{Since: at(2999).Add(time.Nanosecond)},
		{Until: at(0).Add(-time.Nanosecond)},
		{Types: []events.Type{events.TypeUserDisabled}, Actor: "carol", Since: at(500), Until: at(2500)},
		{UserID: "u-042", Actor: "alice", Since: at(300), Until: at(2800)},
		{UserID: "u-042", Types: []events.Type{events.TypeUserRegistered}, Since: at(1500)},
	}
	for _, q := range queries {
		var want []uint64
		for _, r := range all {
			if q.Match(r) {
				want = append(want, r.Seq)
			}
		}
		var got []uint64
		for _, r := range auditRows(t, l, q) {
			got = append(got, r.Seq)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Audit(%+v) = %d rows %v…, want %d rows %v…", q, len(got), head(got), len(want), head(want))
		}
		if len(q.Types) > 0 && q.UserID == "" && q.Since.IsZero() && q.Actor == "" && q.Until.IsZero() {
			// The server selected the types: only those were read.
			if last.Total != uint64(len(want)) || last.Scanned != uint64(len(want)) {
				t.Errorf("Audit(%+v): progress %+v, want %d selected by the server", q, last, len(want))
			}
		}
	}
	if err := l.Audit(testContext(t), projections.AuditQuery{UserID: "a.b", Types: []events.Type{"x y"}}, nil); err == nil {
		t.Error("Audit with a bad user id and type: no error")
	}
}

func head(s []uint64) []uint64 { return s[:min(len(s), 8)] }

func withSeq(e events.Event, seq uint64) events.Event { e.Seq = seq; return e }

// TestAuditIterator stops early and reports an undecodable message without
// losing the rows around it.
func TestAuditIterator(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	evs := manyUsers(rand.New(rand.NewPCG(1, 2)), 5, 20)
	natstest.PublishEvents(t, e.js, evs[:10])
	if _, err := e.js.Publish(testContext(t), events.EventSubjectPrefix+"u-001.UserDisabled", []byte("{oops")); err != nil {
		t.Fatal(err)
	}
	natstest.PublishEvents(t, e.js, evs[10:])
	l := natsadapter.NewAuditLog(e.js, natsadapter.AuditConfig{})
	n := 0
	for r, err := range l.Records(testContext(t), projections.AuditQuery{}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if r.Seq != uint64(n) {
			t.Fatalf("record %d has seq %d", n, r.Seq)
		}
		if n == 5 {
			break
		}
	}
	var rows int
	err := l.Audit(testContext(t), projections.AuditQuery{}, func(projections.AuditEvent) error { rows++; return nil })
	var bad *natsadapter.UndecodableError
	if !errors.As(err, &bad) || bad.N != 1 || bad.Seqs[0] != 11 || rows != 20 {
		t.Errorf("Audit over an undecodable message: err %v, %d rows; want it reported at seq 11 and 20 rows", err, rows)
	}
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	if err := l.Audit(ctx, projections.AuditQuery{}, func(projections.AuditEvent) error { return nil }); err == nil {
		t.Error("Audit with a cancelled context: no error")
	}
}

// TestAuditLongUserHistory: a user whose subjects hold more events than one
// direct batch get returns gets all of them, in order.
func TestAuditLongUserHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var evs []events.Event
	at := time.Now().UTC()
	for i := range 700 {
		u := "big"
		if i%7 == 3 {
			u = "other"
		}
		var p events.Payload = events.SessionsRevoked{RevokedBefore: at}
		if i%2 == 0 {
			p = events.SessionRevoked{SessionID: fmt.Sprint(i)}
		}
		evs = append(evs, events.Event{ID: fmt.Sprint(i), Type: p.EventType(), UserID: u, OccurredAt: at, Actor: "a", CommandID: fmt.Sprint(i), Data: p})
	}
	natstest.PublishEvents(t, e.js, evs)
	l := natsadapter.NewAuditLog(e.js, natsadapter.AuditConfig{})
	var want []uint64
	for i, ev := range evs {
		if ev.UserID == "big" {
			want = append(want, uint64(i+1))
		}
	}
	var got []uint64
	for _, r := range auditRows(t, l, projections.AuditQuery{UserID: "big"}) {
		got = append(got, r.Seq)
	}
	if !slices.Equal(got, want) {
		t.Errorf("history of big: %d events %v…, want %d", len(got), head(got), len(want))
	}
}

// TestAuditUserUnknownType: a user's history includes events of a type a
// newer service writes and this build does not know, as rows.
func TestAuditUserUnknownType(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	appendOK(t, e.store, "ann", 0, registered("ann", "c-1", "ann@example.com"))
	body := `{"id":"ev-x","type":"UserTeleported","user_id":"ann","occurred_at":"2026-03-14T15:09:27Z","actor":"purge","command_id":"c-2","data":{"to":"mars"}}`
	for range 2 {
		if _, err := e.js.Publish(ctx, events.EventSubjectPrefix+"ann.UserTeleported", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	l := natsadapter.NewAuditLog(e.js, natsadapter.AuditConfig{})
	rows := auditRows(t, l, projections.AuditQuery{UserID: "ann"})
	if len(rows) != 3 || rows[1].Type != "UserTeleported" || string(rows[2].Data) != `{"to":"mars"}` {
		t.Fatalf("history of ann: %+v", rows)
	}
	if rows := auditRows(t, l, projections.AuditQuery{UserID: "ann", Types: []events.Type{"UserTeleported"}}); len(rows) != 2 {
		t.Errorf("ann's UserTeleported: %d rows", len(rows))
	}
	got, err := l.StateAt(ctx, "ann", time.Now())
	if err != nil || got.User.State != projections.StatePending || len(got.History) != 3 || len(got.Failures) != 0 {
		t.Errorf("StateAt with unknown events: %+v, %v", got, err)
	}
}

// TestAuditOpensSealedEmails: audit rows show a live user's email and
// "[erased]" for a deleted one, by user and in a full scan, while the
// export carries only the sealed form.
func TestAuditOpensSealedEmails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	appendOK(t, e.store, "ann", 0, registered("ann", "c-1", "ann@example.com"))
	v := appendOK(t, e.store, "bob", 0, registered("bob", "c-2", "bob@example.com"))
	del := revoked("bob", "c-3", 1)
	del.Type, del.Data = events.TypeUserDeleted, events.UserDeleted{RevokedBefore: del.OccurredAt}
	appendOK(t, e.store, "bob", v, del)
	l := natsadapter.NewAuditLog(e.js, natsadapter.AuditConfig{})
	want := map[string]string{"ann": `{"email":"ann@example.com"}`, "bob": `{"email":"[erased]"}`}
	for _, q := range []projections.AuditQuery{{}, {UserID: "ann"}, {UserID: "bob"}, {Types: []events.Type{events.TypeUserRegistered}}} {
		for _, r := range auditRows(t, l, q) {
			if r.Type == events.TypeUserRegistered && string(r.Data) != want[r.UserID] {
				t.Errorf("Audit(%+v): %s registered with %s, want %s", q, r.UserID, r.Data, want[r.UserID])
			}
		}
	}
	u, err := l.StateAt(ctx, "ann", time.Now())
	if err != nil || u.User.Email != "ann@example.com" || string(u.History[0].Data) != want["ann"] {
		t.Errorf("StateAt(ann) = %+v, %v", u, err)
	}
	var out strings.Builder
	if _, _, err := l.Export(ctx, &out, natsadapter.ExportQuery{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "ann@example.com") || strings.Contains(out.String(), "bob@example.com") || !strings.Contains(out.String(), `"email_sealed":"v1:`) {
		t.Errorf("export shows a clear email or no sealed one:\n%s", out.String())
	}
}
