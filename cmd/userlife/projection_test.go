package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/adapters/postgres"
	"github.com/userlife/userlife/adapters/postgres/pgtest"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// lifecycle returns users × 5 events: registered, confirmed, sessions
// revoked, disabled, enabled, interleaved across users as traffic would be.
func lifecycle(users int) []events.Event {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var out []events.Event
	payloads := []func(u int) events.Payload{
		func(u int) events.Payload { return events.UserRegistered{Email: fmt.Sprintf("user%d@example.com", u)} },
		func(int) events.Payload { return events.UserConfirmed{} },
		func(int) events.Payload { return events.SessionsRevoked{RevokedBefore: at} },
		func(int) events.Payload { return events.UserDisabled{RevokedBefore: at.Add(time.Second)} },
		func(int) events.Payload { return events.UserEnabled{} },
	}
	for step, p := range payloads {
		for u := range users {
			data := p(u)
			out = append(out, events.Event{
				ID: uuid.NewString(), Type: data.EventType(), UserID: fmt.Sprintf("user-%d", u),
				OccurredAt: at.Add(time.Duration(step) * time.Minute), Actor: "loader", Reason: "test",
				CommandID: fmt.Sprintf("c-%d-%d", u, step), Data: data,
			})
		}
	}
	return out
}

// pgStore opens a migrated store on a fresh database and returns its DSN.
func pgStore(t *testing.T) (*postgres.Store, string) { return pgStoreB(t) }

func pgStoreB(t testing.TB) (*postgres.Store, string) {
	t.Helper()
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	if _, err := postgres.Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st, dsn
}

func catchUpAll(ctx context.Context, t *testing.T, js jetstream.JetStream, ps ...projections.Projection) {
	t.Helper()
	for _, p := range ps {
		pr := natsadapter.NewProjector(js, p, natsadapter.ProjectorConfig{BatchSize: 2000, RetryMin: 20 * time.Millisecond,
			Logger: slog.New(slog.DiscardHandler)})
		if err := pr.CatchUp(ctx); err != nil {
			t.Fatalf("catch up %s: %v", p.Name(), err)
		}
	}
}

func requireVerified(t *testing.T, js jetstream.JetStream, q projections.Queries) verifyReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := verifyStore(ctx, js, q)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	for _, d := range rep.Diffs {
		t.Error(d)
	}
	return rep
}

// TestProjectorSurvivesTerminatedConnections: PostgreSQL connections are
// terminated again and again during a 100,000-event catch-up; the projector
// retries and ends with tables equal to the fold: nothing lost or doubled.
func TestProjectorSurvivesTerminatedConnections(t *testing.T) {
	t.Parallel()
	_, js := natstest.Provisioned(t)
	natstest.PublishEvents(t, js, lifecycle(20_000))
	st, dsn := pgStore(t)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	terminated := 0
	wg.Go(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		for {
			select {
			case <-stop:
				return
			case <-time.After(150 * time.Millisecond):
			}
			var n int
			err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n)
			if err != nil {
				t.Error(err)
				return
			}
			terminated += n
		}
	})
	catchUpAll(ctx, t, js, st.Users(), st.Audit())
	close(stop)
	wg.Wait()
	t.Logf("terminated %d backends during the catch-up", terminated)
	// Verify through a fresh pool: connections the terminator killed while
	// idle in st's pool fail once on their next use (pgxpool pings only
	// connections idle for more than a second).
	fresh, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	rep := requireVerified(t, js, fresh)
	if rep.Positions[projections.Users] != 100_000 || rep.Positions[projections.Audit] != 100_000 {
		t.Errorf("positions %v, want 100000 each", rep.Positions)
	}
	if terminated == 0 {
		t.Error("no connection was terminated: the catch-up finished too fast to test anything")
	}
}

// TestPoisonEventsAreRecordedAndVerified: an undecodable message and an
// event of an unknown type are recorded as failures and skipped; the rest
// applies and verify reports them without calling them differences.
func TestPoisonEventsAreRecordedAndVerified(t *testing.T) {
	t.Parallel()
	_, js := natstest.Provisioned(t)
	ctx := context.Background()
	evs := lifecycle(10)
	natstest.PublishEvents(t, js, evs[:20])
	if _, err := js.Publish(ctx, "userlife.events.user-1.UserConfirmed", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "userlife.events.user-2.UserFrobnicated",
		[]byte(`{"id":"x","type":"UserFrobnicated","user_id":"user-2","occurred_at":"2026-05-01T12:00:00Z","actor":"a","command_id":"c","data":{}}`)); err != nil {
		t.Fatal(err)
	}
	natstest.PublishEvents(t, js, evs[20:])
	st, _ := pgStore(t)
	catchUpAll(ctx, t, js, st.Users(), st.Audit())
	rep := requireVerified(t, js, st)
	if len(rep.Failures) != 4 {
		t.Errorf("failures: %+v, want the 2 poison messages in each of 2 projections", rep.Failures)
	}
	if rep.Positions[projections.Users] != uint64(len(evs)+2) {
		t.Errorf("positions %v, want %d: the projection must pass the poison", rep.Positions, len(evs)+2)
	}
}

// TestReplayWhileCommandsFlow rebuilds both PostgreSQL projections while
// commands keep coming; afterwards the tables equal the fold.
func TestReplayWhileCommandsFlow(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	app, js, client := servePostgres(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	do := func(c events.Command) {
		if _, err := client.Do(ctx, c); err != nil {
			t.Error(err)
		}
	}
	meta := func(u int) events.CommandMeta { return events.CommandMeta{UserID: fmt.Sprintf("r%d", u), Actor: "t"} }
	for u := range 200 {
		do(&events.RegisterUser{CommandMeta: meta(u), Email: fmt.Sprintf("r%d@example.com", u)})
		do(&events.ConfirmUser{CommandMeta: meta(u)})
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	sent := 0
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			do(&events.RevokeSessions{CommandMeta: meta(i % 200)})
			if i%3 == 0 {
				do(&events.DisableUser{CommandMeta: meta(i % 200)})
			} else {
				do(&events.EnableUser{CommandMeta: meta(i % 200)})
			}
			sent++
		}
	})
	pg := app.read.st.pg
	for _, name := range projections.Names() {
		err := pg.Rebuild(ctx, name, func(ctx context.Context, p projections.Projection) error {
			return natsadapter.NewProjector(js, p, natsadapter.ProjectorConfig{BatchSize: 500}).CatchUp(ctx)
		})
		if err != nil {
			t.Fatalf("rebuild %s: %v", name, err)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d command rounds ran during the rebuild", sent)
	head, err := streamHeadOf(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	if err := natsadapter.NewQueryClient(js.Conn()).WaitFor(ctx, projections.Users, head); err != nil {
		t.Fatal(err)
	}
	if err := natsadapter.NewQueryClient(js.Conn()).WaitFor(ctx, projections.Audit, head); err != nil {
		t.Fatal(err)
	}
	requireVerified(t, js, pg)
}

func streamHeadOf(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	s, err := js.Stream(ctx, natsadapter.EventsStream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}

// TestReplayRebuildsFromOneReading is `userlife replay` of every projection
// at once over damaged tables: users registered with sealed emails, some
// deleted (their keys shredded, their rows gone), the others' emails opened
// again from the stream. Afterwards the tables equal the fold and a second
// replay changes nothing.
func TestReplayRebuildsFromOneReading(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	app, js, client := servePostgres(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	do := func(c events.Command) {
		if _, err := client.Do(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	meta := func(u int) events.CommandMeta { return events.CommandMeta{UserID: fmt.Sprintf("z%d", u), Actor: "t"} }
	for u := range 300 {
		do(&events.RegisterUser{CommandMeta: meta(u), Email: fmt.Sprintf("Z%d@example.com", u)})
		switch u % 4 {
		case 0:
			do(&events.DeleteUser{CommandMeta: meta(u)})
		case 1:
			do(&events.ConfirmUser{CommandMeta: meta(u)})
			do(&events.RevokeSessions{CommandMeta: meta(u)})
		case 2:
			do(&events.ConfirmUser{CommandMeta: meta(u)})
			do(&events.DisableUser{CommandMeta: meta(u)})
		}
	}
	head, err := streamHeadOf(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range projections.Names() {
		if err := natsadapter.NewQueryClient(js.Conn()).WaitFor(ctx, name, head); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range []string{
		`UPDATE users SET email = 'wrong@example.com' WHERE id IN ('z1', 'z2')`,
		`DELETE FROM users WHERE id = 'z3'`,
		`DELETE FROM audit_events WHERE seq < 20`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	pg := app.read.st.pg
	for range 2 {
		if err := rebuildPostgres(ctx, js, pg, projections.Names(), slog.New(slog.DiscardHandler)); err != nil {
			t.Fatalf("replay: %v", err)
		}
		requireVerified(t, js, pg)
		var deleted int
		var email string
		if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM users WHERE id IN ('z0', 'z4', 'z296')), (SELECT email FROM users WHERE id = 'z1')`).Scan(&deleted, &email); err != nil {
			t.Fatal(err)
		}
		if deleted != 0 || email != "Z1@example.com" {
			t.Errorf("after replay: %d rows of deleted users, z1's email %q, want 0 and Z1@example.com", deleted, email)
		}
	}
}

// servePostgres starts serve with its projections in the database dsn and
// returns it with a JetStream connection and a command client on it.
func servePostgres(t *testing.T, dsn string) (*App, jetstream.JetStream, *natsadapter.Client) {
	t.Helper()
	app, err := Start(context.Background(), ServeConfig{DataDir: t.TempDir(), NATSListen: "127.0.0.1:0",
		PostgresURL: dsn, Concurrency: 8, CacheUsers: 1000, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	_, js := natstest.Connect(t, app.NATSURL)
	client, err := natsadapter.NewClient(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	return app, js, client
}
