package main

import (
	"strings"
	"testing"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// SQL and LIKE metacharacters in an email, an actor and a reason, and CR/LF
// in the reason (which must not turn into NATS headers), go through the
// command queue, the event stream and the PostgreSQL projections and come
// back byte for byte; an email prefix made of LIKE wildcards matches only
// itself.
func TestHostileTextRoundTripsThroughPostgres(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, dsn := pgStore(t)
	app, err := Start(ctx, ServeConfig{DataDir: t.TempDir(), NATSListen: "127.0.0.1:0", PostgresURL: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	_, js := natstest.Connect(t, app.NATSURL)
	client, err := natsadapter.NewClient(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	const (
		email  = `o'brien+%_--x@example.com`
		actor  = `admin'; DELETE FROM audit_events; --`
		reason = "x'); DROP TABLE users; -- \\ $1 %_\r\nNats-Msg-Id: evil\r\nNats-Expected-Stream: nope"
	)
	do := func(c events.Command) events.Outcome {
		t.Helper()
		o, err := client.Do(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != events.StatusAccepted {
			t.Fatalf("%s: %+v, want accepted", c.CommandName(), o)
		}
		return o
	}
	m := events.CommandMeta{UserID: "sqli", Actor: actor}
	do(&events.RegisterUser{CommandMeta: m, Email: email})
	do(&events.RegisterUser{CommandMeta: events.CommandMeta{UserID: "plain", Actor: "ops"}, Email: "plain@example.com"})
	do(&events.ConfirmUser{CommandMeta: m})
	dm := m
	dm.Reason = reason
	out := do(&events.DisableUser{CommandMeta: dm})

	qc := natsadapter.NewQueryClient(app.nc)
	for _, p := range []string{projections.Users, projections.Audit} {
		if err := qc.WaitFor(ctx, p, out.EventSeq); err != nil {
			t.Fatal(err)
		}
	}
	u, err := st.GetUser(ctx, "sqli")
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != email || u.State != "disabled" {
		t.Errorf("users row: email %q state %s, want %q disabled", u.Email, u.State, email)
	}
	h, err := st.History(ctx, "sqli")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 || h[2].Reason != reason || h[2].Actor != actor {
		t.Errorf("history %+v, want 3 events, the last by %q because %q", h, actor, reason)
	}
	for prefix, want := range map[string]int{"o'brien+%_": 1, "%": 0, "_": 0, "O'BRIEN": 1, "'": 0} {
		page, err := st.ListUsers(ctx, projections.ListQuery{EmailPrefix: prefix, Limit: 10})
		if err != nil {
			t.Fatalf("list by prefix %q: %v", prefix, err)
		}
		if len(page.Users) != want {
			t.Errorf("email prefix %q matched %d users, want %d", prefix, len(page.Users), want)
		}
	}

	// The reason travels in the payload only: the event's headers are the
	// service's own.
	s, err := js.Stream(ctx, natsadapter.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := s.GetLastMsgForSubject(ctx, events.EventSubject("sqli", events.TypeUserDisabled))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range msg.Header {
		for _, v := range vs {
			if strings.Contains(v, "evil") || strings.Contains(v, "nope") || strings.ContainsAny(v, "\r\n") {
				t.Errorf("header %s: %q carries text from the reason", k, v)
			}
		}
	}
	ev, err := events.Decode(msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Reason != reason || ev.Actor != actor {
		t.Errorf("stored event: actor %q reason %q, want %q %q", ev.Actor, ev.Reason, actor, reason)
	}
	requireVerified(t, js, qc)
}

// Queries with ids that are no NATS token, or bodies that are not the
// expected JSON, are answered 400 with the reason; the service answers the
// next good query as before.
func TestHostileQueries(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	app, err := Start(ctx, ServeConfig{DataDir: t.TempDir(), NATSListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	nc, _ := natstest.Connect(t, app.NATSURL)
	qc := natsadapter.NewQueryClient(nc)
	for _, id := range []string{"a.b", "*", ">", "a b", "x\r\ny", strings.Repeat("x", 65)} {
		if _, err := qc.GetUser(ctx, id); err == nil || !strings.Contains(err.Error(), "code 400") {
			t.Errorf("GetUser(%q): %v, want a 400", id, err)
		}
		if _, err := qc.History(ctx, id); err == nil || !strings.Contains(err.Error(), "code 400") {
			t.Errorf("History(%q): %v, want a 400", id, err)
		}
	}
	for _, body := range []string{`{oops`, `[]`, "\xff", strings.Repeat("[", 10000) + strings.Repeat("]", 10000)} {
		m, err := nc.RequestWithContext(ctx, natsadapter.QueryListUsers, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if code := m.Header.Get("Nats-Service-Error-Code"); code != "400" {
			t.Errorf("users.list with %.20q: code %q, want 400", body, code)
		}
	}
	if _, err := qc.ListUsers(ctx, projections.ListQuery{Limit: 10}); err != nil {
		t.Errorf("a good query after the bad ones: %v", err)
	}
}
