package postgres_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/userlife/userlife/adapters/postgres"
	"github.com/userlife/userlife/projections"
)

// TestRebuildWhileLiveApplies rebuilds both projections while the stream
// grows and the live projectors keep applying it, and a reader keeps
// checking that each table it reads is whole: the fold of some prefix of
// the stream, never a table being built. Small shadow limits make the rebuild of 30,000
// messages take the paths of a large one (users rows written, read back,
// updated and deleted; audit written in several transactions).
func TestRebuildWhileLiveApplies(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dsn := migrated(t)
	s, raw := open(t, dsn), rawPool(t, dsn)
	postgres.SetShadowLimit(s, 2000)
	msgs := withPoison(lifecycles(5, 30_000, 6000), 211)

	var published atomic.Int64
	published.Store(10_000)
	head := func() int { return int(published.Load()) }
	live := []*projector{{p: s.Users(), msgs: msgs, batch: 300, head: head}, {p: s.Audit(), msgs: msgs, batch: 300, head: head}}
	for _, r := range live { // the live projections start caught up
		if err := (&projector{p: r.p, msgs: msgs[:10_000], batch: 1000}).run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		for published.Load() < int64(len(msgs)) && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
			published.Store(min(published.Load()+40, int64(len(msgs))))
		}
	}()

	var wg sync.WaitGroup
	for _, r := range live {
		wg.Go(func() {
			if err := r.run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	readerDone := make(chan struct{})
	var checks atomic.Int64
	go func() {
		defer close(readerDone)
		for ctx.Err() == nil && published.Load() < int64(len(msgs)) {
			if !tablesAreWhole(t, raw, msgs) {
				return
			}
			checks.Add(1)
		}
	}()
	for _, name := range projections.Names() {
		wg.Go(func() {
			err := s.Rebuild(ctx, name, func(ctx context.Context, shadow projections.Projection) error {
				return (&projector{p: shadow, msgs: msgs, batch: 700, head: head, untilHead: true}).run(ctx)
			})
			if err != nil {
				t.Errorf("Rebuild(%s): %v", name, err)
			}
		})
	}
	wg.Wait()
	<-readerDone
	// A live projector ahead of the swapped-in checkpoint meets a gap and
	// reads again from there (an error it rides out).
	t.Logf("the reader checked %d snapshots; the live projectors rode out %d and %d errors", checks.Load(), live[0].errs, live[1].errs)
	requireFold(t, s, raw, msgs)
	requireNoShadows(t, raw)
}

// tablesAreWhole reads each table in one statement, as the queries do, and
// checks that it is the fold of some prefix of the stream: the old table or
// the new one, never one half built or half swapped.
func tablesAreWhole(t *testing.T, raw *pgxpool.Pool, msgs []projections.Message) bool {
	t.Helper()
	ctx := context.Background()
	rows, err := raw.Query(ctx, `SELECT id, version FROM users`)
	if err != nil {
		t.Errorf("reader: %v", err)
		return false
	}
	users := map[string]uint64{}
	var id string
	var version int64
	_, err = pgx.ForEachRow(rows, []any{&id, &version}, func() error { users[id] = uint64(version); return nil })
	if err != nil {
		t.Errorf("reader: %v", err)
		return false
	}
	var audit, auditLast int64
	if err := raw.QueryRow(ctx, `SELECT count(*), coalesce(max(seq), 0) FROM audit_events`).Scan(&audit, &auditLast); err != nil {
		t.Errorf("reader: %v", err)
		return false
	}
	ok := true
	if _, found := usersPrefix(users, msgs); !found {
		t.Errorf("a reader saw %d users rows that are the fold of no prefix of the stream", len(users))
		ok = false
	}
	want := 0
	for _, m := range msgs[:auditLast] {
		if _, err := projections.ReduceAuditMessage(m); err == nil {
			want++
		}
	}
	if int(audit) != want {
		t.Errorf("a reader saw %d audit rows up to seq %d; the fold has %d", audit, auditLast, want)
		ok = false
	}
	return ok
}

// usersPrefix finds a prefix of msgs whose users fold has exactly the rows
// (id → version) given, starting from the newest version seen; it tracks
// the number of rows that differ as it folds, one message at a time.
func usersPrefix(seen map[string]uint64, msgs []projections.Message) (int, bool) {
	var from uint64
	for _, v := range seen {
		from = max(from, v)
	}
	fold := projections.NewUsersTable()
	for _, m := range msgs[:from] {
		fold.Apply(m, time.Time{})
	}
	differs := func(id string) bool {
		row, ok := fold.Rows[id]
		v, seenOK := seen[id]
		return ok != seenOK || (ok && row.Version != v)
	}
	diff := 0
	for id := range seen {
		if differs(id) {
			diff++
		}
	}
	for id := range fold.Rows {
		if _, ok := seen[id]; !ok {
			diff++
		}
	}
	for c := int(from); ; c++ {
		if diff == 0 {
			return c, true
		}
		if c == len(msgs) {
			return 0, false
		}
		m := msgs[c]
		if m.Err != nil {
			fold.Apply(m, time.Time{})
			continue
		}
		before := differs(m.Event.UserID)
		fold.Apply(m, time.Time{})
		if after := differs(m.Event.UserID); after != before {
			if after {
				diff++
			} else {
				diff--
			}
		}
	}
}

// requireNoShadows checks that a rebuild left the live tables, with their
// own index names, crash-safe, and nothing of itself behind.
func requireNoShadows(t *testing.T, raw *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	var leftovers []string
	err := raw.QueryRow(ctx, `SELECT coalesce(array_agg(x), '{}') FROM (
    SELECT relname AS x FROM pg_class WHERE relname LIKE '%rebuild%'
    UNION ALL SELECT name FROM projection_checkpoints WHERE name LIKE '%#rebuild'
    UNION ALL SELECT DISTINCT projection FROM failed_events WHERE projection LIKE '%#rebuild'
    UNION ALL SELECT relname || ' is not logged' FROM pg_class WHERE relname IN ('users', 'audit_events') AND relpersistence <> 'p') l`).Scan(&leftovers)
	if err != nil {
		t.Fatal(err)
	}
	if len(leftovers) > 0 {
		t.Errorf("left behind: %v", leftovers)
	}
	var indexes []string
	if err := raw.QueryRow(ctx, `SELECT array_agg(indexname::text ORDER BY indexname) FROM pg_indexes WHERE tablename IN ('users', 'audit_events')`).Scan(&indexes); err != nil {
		t.Fatal(err)
	}
	want := []string{"audit_events_pkey", "audit_events_user_seq", "users_email_prefix", "users_pkey", "users_state_id"}
	if !slices.Equal(indexes, want) {
		t.Errorf("indexes %v, want %v", indexes, want)
	}
}
