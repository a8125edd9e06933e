package main

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/projections"
)

// foldProjection is a projection folded in memory from scratch: the
// reference verify compares a store with.
type foldProjection struct {
	name  string
	users *projections.UsersTable
	audit *projections.AuditLog
}

func (f *foldProjection) Name() string { return f.name }

func (f *foldProjection) Checkpoint(context.Context) (uint64, error) {
	if f.users != nil {
		return f.users.Checkpoint, nil
	}
	return f.audit.Checkpoint, nil
}

func (f *foldProjection) Apply(ctx context.Context, b projections.Batch) error {
	cp, _ := f.Checkpoint(ctx)
	rest, err := b.After(cp)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, m := range rest {
		if f.users != nil {
			f.users.Apply(m, now)
		} else {
			f.audit.Apply(m, now)
		}
	}
	return nil
}

// verifyReport lists what differs between a store and the fold.
type verifyReport struct {
	Positions map[string]uint64
	Diffs     []string
	Failures  []projections.Failure // recorded by the store (poison events)
}

// verifyStore folds the stream up to the store's own positions and compares
// every users row, every user's audit history and the recorded failures. A
// store that moves while it is read is read again (up to five times).
func verifyStore(ctx context.Context, js jetstream.JetStream, got projections.Queries) (verifyReport, error) {
	users := &foldProjection{name: projections.Users, users: projections.NewUsersTable()}
	audit := &foldProjection{name: projections.Audit, audit: &projections.AuditLog{}}
	var rep verifyReport
	keys, err := natsadapter.NewKeyVault(ctx, js)
	if err != nil {
		return rep, err
	}
	for attempt := 1; ; attempt++ {
		pos, err := got.Positions(ctx)
		if err != nil {
			return rep, err
		}
		for _, f := range []*foldProjection{users, audit} {
			cp, _ := f.Checkpoint(ctx)
			if pos[f.name] < cp {
				return rep, fmt.Errorf("projection %s went back from %d to %d while verifying (a replay?); run verify again", f.name, cp, pos[f.name])
			}
			pr := natsadapter.NewProjector(js, f, natsadapter.ProjectorConfig{BatchSize: 5000})
			if err := pr.CatchUpTo(ctx, pos[f.name]); err != nil {
				return rep, err
			}
		}
		diffs, failures, err := compareStore(ctx, users.users, audit.audit, natsadapter.OpeningQueries(got, keys), keys)
		if err != nil {
			return rep, err
		}
		after, err := got.Positions(ctx)
		if err != nil {
			return rep, err
		}
		if maps.Equal(pos, after) {
			return verifyReport{Positions: pos, Diffs: diffs, Failures: failures}, nil
		}
		if attempt == 5 {
			return rep, fmt.Errorf("the store kept moving while being read (positions %v then %v); verify when traffic is lower", pos, after)
		}
	}
}

func compareStore(ctx context.Context, wantUsers *projections.UsersTable, wantAudit *projections.AuditLog, got projections.Queries, keys *natsadapter.KeyVault) ([]string, []projections.Failure, error) {
	var diffs []string
	gotUsers := map[string]projections.User{}
	q := projections.ListQuery{Limit: 1000}
	for {
		page, err := got.ListUsers(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		for _, u := range page.Users {
			gotUsers[u.ID] = u
		}
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	for _, id := range slices.Sorted(maps.Keys(wantUsers.Rows)) {
		w := normUser(wantUsers.Rows[id])
		g, ok := gotUsers[id]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("users: %s missing (want %+v)", id, w))
		case !reflect.DeepEqual(w, normUser(g)):
			diffs = append(diffs, fmt.Sprintf("users: %s differs:\n  want %+v\n  got  %+v", id, w, normUser(g)))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(gotUsers)) {
		if _, ok := wantUsers.Rows[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("users: %s should not exist (got %+v)", id, gotUsers[id]))
		}
	}

	byUser := map[string][]projections.AuditEvent{}
	for _, r := range wantAudit.Rows {
		byUser[r.UserID] = append(byUser[r.UserID], r)
	}
	for _, id := range slices.Sorted(maps.Keys(byUser)) {
		h, err := got.History(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		want, err := keys.OpenHistory(ctx, byUser[id])
		if err != nil {
			return nil, nil, err
		}
		if len(h) != len(want) {
			diffs = append(diffs, fmt.Sprintf("audit: user %s has %d rows, want %d", id, len(h), len(want)))
			continue
		}
		for i := range want {
			if !reflect.DeepEqual(normAudit(want[i]), normAudit(h[i])) {
				diffs = append(diffs, fmt.Sprintf("audit: seq %d differs:\n  want %+v\n  got  %+v", want[i].Seq, normAudit(want[i]), normAudit(h[i])))
			}
		}
	}

	failures, err := got.Failures(ctx)
	if err != nil {
		return nil, nil, err
	}
	type key struct {
		p   string
		seq uint64
	}
	gotF := map[key]bool{}
	for _, f := range failures {
		gotF[key{f.Projection, f.Seq}] = true
	}
	for _, f := range append(slices.Clone(wantUsers.Failures), wantAudit.Failures...) {
		if !gotF[key{f.Projection, f.Seq}] {
			diffs = append(diffs, fmt.Sprintf("failures: %s seq %d (%s) not recorded", f.Projection, f.Seq, f.Error))
		}
		delete(gotF, key{f.Projection, f.Seq})
	}
	for k := range gotF {
		diffs = append(diffs, fmt.Sprintf("failures: %s seq %d recorded, but it applies cleanly", k.p, k.seq))
	}
	return diffs, failures, nil
}

// Stores keep timestamps to the microsecond (PostgreSQL); compare there.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

func normUser(u projections.User) projections.User {
	u.RegisteredAt, u.ConfirmedAt, u.DisabledAt = normTime(u.RegisteredAt), normTime(u.ConfirmedAt), normTime(u.DisabledAt)
	u.DeletedAt, u.RevokedBefore, u.UpdatedAt = normTime(u.DeletedAt), normTime(u.RevokedBefore), normTime(u.UpdatedAt)
	return u
}

func normAudit(a projections.AuditEvent) projections.AuditEvent {
	a.OccurredAt = normTime(a.OccurredAt)
	a.Data = compactJSON(a.Data)
	return a
}
