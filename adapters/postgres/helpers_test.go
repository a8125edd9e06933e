package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/userlife/userlife/adapters/postgres"
	"github.com/userlife/userlife/adapters/postgres/pgtest"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// epoch is the first event's time; events are a millisecond apart, a
// precision PostgreSQL keeps.
var epoch = time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)

// lifecycles generates n stream messages (sequences 1..n) of about `users`
// interleaved user lifecycles, every event allowed by the domain rules from
// the user's state: a user's events are spread over the stream, as in
// production, so a batch rarely holds two events of one user.
func lifecycles(seed uint64, n, users int) []projections.Message {
	rng := rand.New(rand.NewPCG(seed, 0x11fe))
	msgs := make([]projections.Message, 0, n)
	var live []string
	state := map[string]string{}
	registered := 0
	add := func(id string, p events.Payload, reason string) {
		seq := uint64(len(msgs)) + 1
		at := epoch.Add(time.Duration(seq) * time.Millisecond)
		e := events.Event{ID: fmt.Sprintf("evt-%d", seq), Type: p.EventType(), UserID: id, OccurredAt: at,
			Actor: "admin@example.com", Reason: reason, CommandID: fmt.Sprintf("cmd-%d", seq), Seq: seq, Data: p}
		msgs = append(msgs, projections.Message{Seq: seq, Subject: events.EventSubject(id, e.Type), Event: e})
	}
	for len(msgs) < n {
		if len(live) == 0 || (registered < users && rng.IntN(n) < users) {
			registered++
			id := fmt.Sprintf("u%07d", registered)
			add(id, events.UserRegistered{Email: fmt.Sprintf("User%d@Example.com", registered)}, "")
			live, state[id] = append(live, id), projections.StatePending
			continue
		}
		i := rng.IntN(len(live))
		id := live[i]
		at := epoch.Add(time.Duration(len(msgs)+1) * time.Millisecond)
		switch r := rng.IntN(20); {
		case r == 0:
			add(id, events.UserDeleted{RevokedBefore: at}, "erasure request")
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
		case r <= 4:
			add(id, events.SessionsRevoked{RevokedBefore: at}, "laptop stolen")
		case state[id] == projections.StatePending:
			add(id, events.UserConfirmed{}, "")
			state[id] = projections.StateConfirmed
		case state[id] == projections.StateConfirmed:
			add(id, events.UserDisabled{RevokedBefore: at}, "abuse report")
			state[id] = projections.StateDisabled
		default:
			add(id, events.UserEnabled{}, "appeal accepted")
			state[id] = projections.StateConfirmed
		}
	}
	return msgs
}

// batches splits msgs into batches of n.
func batches(msgs []projections.Message, n int) []projections.Batch {
	var out []projections.Batch
	for len(msgs) > 0 {
		k := min(n, len(msgs))
		out = append(out, projections.Batch(msgs[:k]))
		msgs = msgs[k:]
	}
	return out
}

// migrated returns the DSN of a fresh, migrated database.
func migrated(t testing.TB) string {
	t.Helper()
	dsn := pgtest.DSN(t)
	if _, err := postgres.Migrate(context.Background(), dsn); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return dsn
}

func open(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// rawPool is a pool for reading tables directly, behind the Store's back.
func rawPool(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("pgxpool.New: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// requireFold checks that the store holds exactly the fold of msgs: every
// users row, both checkpoints, the failures, and one audit row per
// applicable message, none twice.
func requireFold(t *testing.T, s *postgres.Store, raw *pgxpool.Pool, msgs []projections.Message) {
	t.Helper()
	users, audit := requireRows(t, s, raw, msgs)
	fs, err := s.Failures(context.Background())
	if err != nil {
		t.Fatalf("Failures: %v", err)
	}
	var gotFailures, wantFailures []string
	for _, f := range fs {
		gotFailures = append(gotFailures, fmt.Sprintf("%s@%d", f.Projection, f.Seq))
	}
	for _, f := range append(users.Failures, audit.Failures...) {
		wantFailures = append(wantFailures, fmt.Sprintf("%s@%d", f.Projection, f.Seq))
	}
	slices.Sort(gotFailures)
	slices.Sort(wantFailures)
	if !slices.Equal(gotFailures, wantFailures) {
		t.Errorf("failures at %v\nwant %v", gotFailures, wantFailures)
	}
}

// requireRows is requireFold without the failures; it returns the folds.
func requireRows(t *testing.T, s *postgres.Store, raw *pgxpool.Pool, msgs []projections.Message) (*projections.UsersTable, *projections.AuditLog) {
	t.Helper()
	ctx := context.Background()
	users, audit := projections.NewUsersTable(), &projections.AuditLog{}
	for _, m := range msgs {
		users.Apply(m, time.Time{})
		audit.Apply(m, time.Time{})
	}
	last := msgs[len(msgs)-1].Seq
	pos, err := s.Positions(ctx)
	if err != nil {
		t.Fatalf("Positions: %v", err)
	}
	if pos[projections.Users] != last || pos[projections.Audit] != last {
		t.Errorf("Positions() = %v, want %d for both", pos, last)
	}

	got := map[string]projections.User{}
	for q := (projections.ListQuery{Limit: 1000}); ; {
		page, err := s.ListUsers(ctx, q)
		if err != nil {
			t.Fatalf("ListUsers: %v", err)
		}
		for _, u := range page.Users {
			got[u.ID] = u
		}
		if q.After = page.Next; q.After == "" {
			break
		}
	}
	if len(got) != len(users.Rows) {
		t.Errorf("%d users rows, want %d", len(got), len(users.Rows))
	}
	bad := 0
	for id, want := range users.Rows {
		if g, ok := got[id]; !ok || !sameUser(g, want) {
			if bad++; bad <= 5 {
				t.Errorf("user %s:\n got %+v\nwant %+v", id, g, want)
			}
		}
	}

	var seqs []int64
	if err := raw.QueryRow(ctx, `SELECT coalesce(array_agg(seq ORDER BY seq), '{}') FROM audit_events`).Scan(&seqs); err != nil {
		t.Fatalf("read audit seqs: %v", err)
	}
	want := make([]int64, len(audit.Rows))
	for i, r := range audit.Rows {
		want[i] = int64(r.Seq)
	}
	if !slices.Equal(seqs, want) {
		t.Errorf("audit has %d rows (seqs %v...), want %d (seqs %v...)", len(seqs), seqs[:min(5, len(seqs))], len(want), want[:min(5, len(want))])
	}
	return users, audit
}

// sameUser compares rows, times by instant.
func sameUser(a, b projections.User) bool {
	return a.ID == b.ID && a.Email == b.Email && a.State == b.State && a.RegisteredAt.Equal(b.RegisteredAt) &&
		a.ConfirmedAt.Equal(b.ConfirmedAt) && a.DisabledAt.Equal(b.DisabledAt) && a.DeletedAt.Equal(b.DeletedAt) &&
		a.RevokedBefore.Equal(b.RevokedBefore) && a.Version == b.Version && a.UpdatedAt.Equal(b.UpdatedAt)
}
