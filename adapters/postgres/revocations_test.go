package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/userlife/userlife/adapters/postgres"
	"github.com/userlife/userlife/adapters/postgres/pgtest"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
	"github.com/userlife/userlife/projections/revocation"
)

// withSessions turns about half of the SessionsRevoked events of msgs into
// SessionRevoked ones, with session ids drawn from a small set so that a
// user's sessions are revoked twice as well as once.
func withSessions(seed uint64, msgs []projections.Message) []projections.Message {
	rng := rand.New(rand.NewPCG(seed, 0x5e55))
	for i := range msgs {
		m := &msgs[i]
		if m.Err != nil || m.Event.Type != events.TypeSessionsRevoked || rng.IntN(2) == 0 {
			continue
		}
		p := events.SessionRevoked{SessionID: fmt.Sprintf("sid-%d", rng.IntN(6))}
		m.Event.Type, m.Event.Data = p.EventType(), p
		m.Subject = events.EventSubject(m.Event.UserID, m.Event.Type)
	}
	return msgs
}

// randomBatches splits msgs into batches of 1 to max messages.
func randomBatches(seed uint64, msgs []projections.Message, max int) []projections.Batch {
	rng := rand.New(rand.NewPCG(seed, 0xba7c))
	var out []projections.Batch
	for len(msgs) > 0 {
		k := min(1+rng.IntN(max), len(msgs))
		out = append(out, projections.Batch(msgs[:k]))
		msgs = msgs[k:]
	}
	return out
}

// foldRevocations is what the table must hold after msgs: revocation.Reduce
// over each user's events, and the sequences that must have failed.
func foldRevocations(msgs []projections.Message) (map[string]revocation.Entry, []int64) {
	view := map[string]*revocation.Entry{}
	var failed []int64
	for _, m := range msgs {
		if m.Err != nil {
			failed = append(failed, int64(m.Seq))
			continue
		}
		next, err := revocation.Reduce(view[m.Event.UserID], m.Event)
		if err != nil {
			failed = append(failed, int64(m.Seq))
			continue
		}
		view[m.Event.UserID] = next
	}
	out := make(map[string]revocation.Entry, len(view))
	for id, e := range view {
		out[id] = *e
	}
	return out, failed
}

// readRevocations reads the whole table behind the Store's back.
func readRevocations(t *testing.T, raw *pgxpool.Pool, table string) map[string]revocation.Entry {
	t.Helper()
	rows, err := raw.Query(context.Background(), `SELECT user_id, state, coalesce(revoked_before, 'epoch'), revoked_sessions, revision FROM `+table)
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	got := map[string]revocation.Entry{}
	for rows.Next() {
		var e revocation.Entry
		var before time.Time
		var rev int64
		if err := rows.Scan(&e.UserID, &e.State, &before, &e.RevokedSessions, &rev); err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		if !before.Equal(time.Unix(0, 0)) {
			e.RevokedBefore = before
		}
		e.Revision = uint64(rev)
		got[e.UserID] = e
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	return got
}

func sameEntry(a, b revocation.Entry) bool {
	return a.UserID == b.UserID && a.State == b.State && a.RevokedBefore.Equal(b.RevokedBefore) &&
		slices.Equal(a.RevokedSessions, b.RevokedSessions) && a.Revision == b.Revision
}

// requireRevocations checks every row of the revocations table, its
// checkpoint and its failures against the fold of msgs.
func requireRevocations(t *testing.T, s *postgres.Store, raw *pgxpool.Pool, msgs []projections.Message) {
	t.Helper()
	ctx := context.Background()
	want, wantFailed := foldRevocations(msgs)
	got := readRevocations(t, raw, "revocations")
	if len(got) != len(want) {
		t.Errorf("revocations has %d rows, want %d", len(got), len(want))
	}
	bad := 0
	for id, w := range want {
		g, ok := got[id]
		if len(g.RevokedSessions) == 0 {
			g.RevokedSessions = nil // the column is NOT NULL: '{}' for none
		}
		if !ok || !sameEntry(g, w) {
			if bad++; bad <= 5 {
				t.Errorf("revocation %s:\n got %+v (stored %v)\nwant %+v", id, g, ok, w)
			}
		}
	}
	last := msgs[len(msgs)-1].Seq
	if cp, err := s.Revocations().Checkpoint(ctx); err != nil || cp != last {
		t.Errorf("Revocations().Checkpoint() = %d, %v; want %d", cp, err, last)
	}
	pos, err := s.Positions(ctx)
	if err != nil || pos[postgres.RevocationsProjection] != last {
		t.Errorf("Positions() = %v, %v; want revocations at %d", pos, err, last)
	}
	var failed []int64
	err = raw.QueryRow(ctx, `SELECT coalesce(array_agg(seq ORDER BY seq), '{}') FROM failed_events WHERE projection = 'revocations'`).Scan(&failed)
	if err != nil {
		t.Fatalf("read failed_events: %v", err)
	}
	if !slices.Equal(failed, wantFailed) {
		t.Errorf("failed_events for revocations at %v, want %v", failed, wantFailed)
	}
}

// TestRevocationsMatchReduce applies random lifecycles (sessions revoked
// one by one and all at once, disables, deletes, poison) in random batch
// sizes and compares every row with revocation.Reduce's fold.
func TestRevocationsMatchReduce(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := migrated(t)
			s, raw := open(t, dsn), rawPool(t, dsn)
			msgs := withPoison(withSessions(seed, lifecycles(seed, 6000, 800)), 173)
			for _, b := range randomBatches(seed, msgs, 400) {
				if err := s.Revocations().Apply(ctx, b); err != nil {
					t.Fatalf("Apply(%d..%d): %v", b[0].Seq, b.Last(), err)
				}
			}
			requireRevocations(t, s, raw, msgs)

			want, _ := foldRevocations(msgs)
			n := 0
			for id, w := range want {
				got, err := s.Revocation(ctx, id)
				if err != nil || !sameEntry(got, w) {
					t.Errorf("Revocation(%s) = %+v, %v; want %+v", id, got, err, w)
				}
				if n++; n == 50 {
					break
				}
			}
			if _, err := s.Revocation(ctx, "nobody"); !errors.Is(err, projections.ErrNotFound) {
				t.Errorf("Revocation(nobody) = %v, want ErrNotFound", err)
			}
			// The other projections are untouched.
			pos, _ := s.Positions(ctx)
			if pos[projections.Users] != 0 || pos[projections.Audit] != 0 {
				t.Errorf("Positions() = %v, want users and audit at 0", pos)
			}
		})
	}
}

// TestRevocationsRedelivery: batches at or below the checkpoint change no
// row; with the checkpoint moved back by hand, the version guard keeps every
// row as it is.
func TestRevocationsRedelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := migrated(t)
	s, raw := open(t, dsn), rawPool(t, dsn)
	msgs := withPoison(withSessions(7, lifecycles(7, 3000, 500)), 89)
	bs := batches(msgs, 300)
	for _, b := range bs {
		if err := s.Revocations().Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	xmin := func() (n, x int64) {
		t.Helper()
		err := raw.QueryRow(ctx, `SELECT count(*), coalesce(max(xmin::text::bigint), 0) FROM revocations`).Scan(&n, &x)
		if err != nil {
			t.Fatal(err)
		}
		return n, x
	}
	n0, x0 := xmin()
	for _, b := range []projections.Batch{bs[0], bs[4], bs[len(bs)-1], projections.Batch(msgs)} {
		if err := s.Revocations().Apply(ctx, b); err != nil {
			t.Fatalf("redelivery of %d..%d: %v", b[0].Seq, b.Last(), err)
		}
	}
	if n, x := xmin(); n != n0 || x != x0 {
		t.Errorf("redeliveries wrote: %d rows (xmin %d), had %d (xmin %d)", n, x, n0, x0)
	}
	requireRevocations(t, s, raw, msgs)

	// Someone moves the checkpoint back: every event is folded again over
	// rows already past it, and none goes back.
	if _, err := raw.Exec(ctx, `UPDATE projection_checkpoints SET position = 1000 WHERE name = 'revocations'`); err != nil {
		t.Fatal(err)
	}
	before := readRevocations(t, raw, "revocations")
	for _, b := range batches(msgs[1000:], 250) {
		if err := s.Revocations().Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	after := readRevocations(t, raw, "revocations")
	for id, b := range before {
		if a := after[id]; !sameEntry(a, b) {
			t.Errorf("re-applied past rows changed %s: %+v, was %+v", id, a, b)
		}
	}
	requireRevocations(t, s, raw, msgs)
}

// TestRevocationsRefuseAGap: a batch that starts after checkpoint+1 is
// refused with a *GapError and writes nothing.
func TestRevocationsRefuseAGap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := migrated(t)
	s, raw := open(t, dsn), rawPool(t, dsn)
	msgs := withSessions(9, lifecycles(9, 200, 50))
	if err := s.Revocations().Apply(ctx, msgs[:100]); err != nil {
		t.Fatal(err)
	}
	before := readRevocations(t, raw, "revocations")
	err := s.Revocations().Apply(ctx, msgs[101:150])
	var gap *projections.GapError
	if !errors.As(err, &gap) || !errors.Is(err, projections.ErrGap) || gap.Checkpoint != 100 || gap.First != 102 {
		t.Fatalf("Apply(102..150) at checkpoint 100 = %v, want a GapError{100, 102}", err)
	}
	if cp, _ := s.Revocations().Checkpoint(ctx); cp != 100 {
		t.Errorf("checkpoint %d after a refused gap, want 100", cp)
	}
	if after := readRevocations(t, raw, "revocations"); len(after) != len(before) {
		t.Errorf("a refused gap changed the table: %d rows, had %d", len(after), len(before))
	}
	if err := s.Revocations().Apply(ctx, msgs[100:]); err != nil {
		t.Fatal(err)
	}
	requireRevocations(t, s, raw, msgs)
}

// TestRevocationsRecordPoison: an undecodable message, an unknown type and
// payloads the reducer refuses are recorded in failed_events and skipped;
// the events after them apply.
func TestRevocationsRecordPoison(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := migrated(t)
	s, raw := open(t, dsn), rawPool(t, dsn)
	at := epoch.Add(time.Hour)
	ev := func(seq uint64, typ events.Type, p events.Payload) projections.Message {
		e := events.Event{ID: fmt.Sprint("evt-", seq), Type: typ, UserID: "u1", OccurredAt: at, Seq: seq, Data: p}
		return projections.Message{Seq: seq, Subject: events.EventSubject("u1", typ), Event: e}
	}
	msgs := []projections.Message{
		ev(1, events.TypeUserRegistered, events.UserRegistered{Email: "a@x.com"}),
		{Seq: 2, Subject: "userlife.events.u1.UserConfirmed", Data: []byte(`{"type":`), Err: events.ErrMalformedEvent},
		ev(3, "UserRenamed", nil),
		ev(4, events.TypeSessionRevoked, events.SessionRevoked{}),                // no session id
		ev(5, events.TypeUserDisabled, events.UserConfirmed{}),                   // wrong payload
		ev(6, events.TypeSessionRevoked, events.SessionRevoked{SessionID: "s1"}), // applies
		ev(7, events.TypeUserDisabled, events.UserDisabled{RevokedBefore: at}),   // applies
	}
	if err := s.Revocations().Apply(ctx, msgs); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	got, err := s.Revocation(ctx, "u1")
	want := revocation.Entry{UserID: "u1", State: revocation.StateDisabled, RevokedBefore: at, RevokedSessions: []string{"s1"}, Revision: 7}
	if err != nil || !sameEntry(got, want) {
		t.Errorf("Revocation(u1) = %+v, %v; want %+v", got, err, want)
	}
	var seqs []int64
	var errs []string
	err = raw.QueryRow(ctx, `SELECT array_agg(seq ORDER BY seq), array_agg(error ORDER BY seq) FROM failed_events WHERE projection = 'revocations'`).Scan(&seqs, &errs)
	if err != nil || !slices.Equal(seqs, []int64{2, 3, 4, 5}) {
		t.Fatalf("failed_events = %v (%v), %v; want seqs 2, 3, 4, 5", seqs, errs, err)
	}
	requireRevocations(t, s, raw, msgs)
	// Revocation failures stay out of Failures, which verify compares with
	// the users and audit folds.
	if fs, err := s.Failures(ctx); err != nil || len(fs) != 0 {
		t.Errorf("Failures() = %v, %v; want none (revocations failures are not listed)", fs, err)
	}
}

// TestRevocationsMigrationUpgrades: a database an older build migrated to
// version 1, with data, gains the revocations table and keeps its rows; the
// revocations projection then starts from sequence 1. Migrating again
// applies nothing.
func TestRevocationsMigrationUpgrades(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	if applied, err := postgres.MigrateUpTo(ctx, dsn, 1); err != nil || !slices.Equal(applied, allMigrations[:1]) {
		t.Fatalf("MigrateUpTo(1) = %v, %v", applied, err)
	}
	raw := rawPool(t, dsn)
	msgs := withSessions(11, lifecycles(11, 1000, 200))
	// Version 1's data, written the way a version-1 build did.
	if _, err := raw.Exec(ctx, `
INSERT INTO users (id, email, state, registered_at, version, updated_at) VALUES ('u0000001', 'a@x.com', 'pending', now(), 1, now());
INSERT INTO audit_events (seq, event_id, type, user_id, actor, command_id, occurred_at, data)
    VALUES (1, 'evt-1', 'UserRegistered', 'u0000001', 'a', 'cmd-1', now(), '{}');
INSERT INTO projection_checkpoints (name, position) VALUES ('users', 1), ('audit', 1);
INSERT INTO failed_events (projection, seq, subject, error, first_failed_at, last_failed_at)
    VALUES ('users', 9, 's', 'e', now(), now())`); err != nil {
		t.Fatal(err)
	}

	applied, err := postgres.Migrate(ctx, dsn)
	if err != nil || !slices.Equal(applied, allMigrations[1:]) {
		t.Fatalf("Migrate on version 1 = %v, %v; want %v", applied, err, allMigrations[1:])
	}
	if applied, err := postgres.Migrate(ctx, dsn); err != nil || len(applied) != 0 {
		t.Fatalf("second Migrate = %v, %v; want nothing applied", applied, err)
	}
	for table, want := range map[string]int{"users": 1, "audit_events": 1, "projection_checkpoints": 2, "failed_events": 1, "revocations": 0} {
		var n int
		if err := raw.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil || n != want {
			t.Errorf("%s has %d rows (%v) after the upgrade, want %d", table, n, err, want)
		}
	}
	s := open(t, dsn)
	pos, err := s.Positions(ctx)
	if want := map[string]uint64{"users": 1, "audit": 1, "revocations": 0}; err != nil || !maps.Equal(pos, want) {
		t.Errorf("Positions() = %v, %v; want %v", pos, err, want)
	}
	for _, b := range batches(msgs, 128) {
		if err := s.Revocations().Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	requireRevocations(t, s, raw, msgs)
}

// TestRebuildRevocations builds the revocations table aside from sequence 1
// and swaps it in: the rows are the fold, the failures the rebuild's.
func TestRebuildRevocations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := migrated(t)
	s, raw := open(t, dsn), rawPool(t, dsn)
	postgres.SetShadowLimit(s, 700)
	msgs := withPoison(withSessions(13, lifecycles(13, 4000, 700)), 131)
	for _, b := range batches(msgs[:2500], 200) {
		if err := s.Revocations().Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// A row the stream does not explain, which the rebuild must drop.
	if _, err := raw.Exec(ctx, `INSERT INTO revocations (user_id, state, revision) VALUES ('ghost', 'confirmed', 1)`); err != nil {
		t.Fatal(err)
	}
	err := s.Rebuild(ctx, postgres.RevocationsProjection, func(ctx context.Context, p projections.Projection) error {
		for _, b := range batches(msgs, 300) {
			if err := p.Apply(ctx, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	requireRevocations(t, s, raw, msgs)
	var shadows int
	if err := raw.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname LIKE 'revocations_rebuild%'`).Scan(&shadows); err != nil || shadows != 0 {
		t.Errorf("%d shadow relations left (%v)", shadows, err)
	}
	// The live projection carries on from the rebuilt checkpoint.
	more := withSessions(13, lifecycles(13, 4200, 700))[4000:]
	all := append(slices.Clone(msgs), more...)
	if err := s.Revocations().Apply(ctx, more); err != nil {
		t.Fatal(err)
	}
	requireRevocations(t, s, raw, all)
}
