package nats_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
	"github.com/userlife/userlife/projections/revocation"
)

// event builds an event of user at baseTime+n ms.
func event(userID, commandID string, n int, p events.Payload) events.Event {
	return events.Event{ID: "ev-" + commandID, Type: p.EventType(), UserID: userID,
		OccurredAt: baseTime.Add(time.Duration(n) * time.Millisecond), Actor: "admin", CommandID: commandID, Data: p}
}

// The view folds events into the KV bucket; a watcher loads the snapshot
// into a Checker, then follows updates: a user disabled after the snapshot
// is refused once the projector has applied the event.
func TestRevocationViewAndWatcher(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	v1 := appendOK(t, e.store, "u-a", 0, registered("u-a", "a0", "a@x.com"))
	v1 = appendOK(t, e.store, "u-a", v1, event("u-a", "a1", 1, events.UserConfirmed{}))
	v2 := appendOK(t, e.store, "u-b", 0, registered("u-b", "b0", "b@x.com"))
	v2 = appendOK(t, e.store, "u-b", v2, event("u-b", "b1", 2, events.UserConfirmed{}))
	appendOK(t, e.store, "u-b", v2, event("u-b", "b2", 3, events.SessionRevoked{SessionID: "s-1"}))

	view, err := natsadapter.NewRevocationView(ctx, e.js, nil)
	if err != nil {
		t.Fatal(err)
	}
	pr := natsadapter.NewProjector(e.js, view, natsadapter.ProjectorConfig{})
	if err := pr.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	c := revocation.NewChecker(revocation.Config{MaxStaleness: time.Hour})
	if c.Check("u-a", "", time.Now().Unix()) != revocation.ReasonNotReady {
		t.Fatalf("before the snapshot: want ReasonNotReady")
	}
	w, err := natsadapter.WatchRevocations(ctx, e.js, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	now := time.Now().Unix()
	for _, tc := range []struct {
		sub, sid string
		want     revocation.Reason
	}{
		{"u-a", "", revocation.Allowed},
		{"u-b", "s-1", revocation.ReasonSessionRevoked},
		{"u-b", "s-2", revocation.Allowed},
		{"u-nobody", "", revocation.Allowed},
	} {
		if got := c.Check(tc.sub, tc.sid, now); got != tc.want {
			t.Errorf("Check(%s, %s) = %v, want %v", tc.sub, tc.sid, got, tc.want)
		}
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go pr.Run(runCtx)
	go view.RunHeartbeat(runCtx)
	at := time.Now()
	appendOK(t, e.store, "u-a", v1, events.Event{ID: "ev-a2", Type: events.TypeUserDisabled, UserID: "u-a", OccurredAt: at,
		Actor: "admin", CommandID: "a2", Data: events.UserDisabled{RevokedBefore: at}})
	deadline := time.Now().Add(10 * time.Second)
	for c.Check("u-a", "", at.Unix()-1) != revocation.ReasonDisabled {
		if time.Now().After(deadline) {
			t.Fatalf("u-a still %v 10s after being disabled (checker at revision %d)", c.Check("u-a", "", at.Unix()-1), c.Revision())
		}
		time.Sleep(time.Millisecond)
	}
	if c.Revision() < 6 {
		t.Errorf("checker revision %d, want ≥ 6", c.Revision())
	}
}

// A value on the bucket's subject that the view did not write (a client
// can have the server deliver a reply there, see docs/security.md) must
// neither let a disabled user's tokens through at a gateway starting
// afterwards nor become the base the service folds the next event onto.
func TestRevocationViewForgedEntry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	at := baseTime.Add(time.Minute)
	v := appendOK(t, e.store, "u-f", 0, registered("u-f", "f0", "f@x.com"))
	v = appendOK(t, e.store, "u-f", v, event("u-f", "f1", 1, events.UserConfirmed{}))
	v = appendOK(t, e.store, "u-f", v, events.Event{ID: "ev-f2", Type: events.TypeUserDisabled, UserID: "u-f", OccurredAt: at,
		Actor: "admin", CommandID: "f2", Data: events.UserDisabled{RevokedBefore: at}})
	view, err := natsadapter.NewRevocationView(ctx, e.js, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := natsadapter.NewProjector(e.js, view, natsadapter.ProjectorConfig{}).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	key := "$KV." + natsadapter.RevocationsBucket + ".u-f"
	watch := func() *revocation.Checker {
		c := revocation.NewChecker(revocation.Config{MaxStaleness: time.Hour})
		w, err := natsadapter.WatchRevocations(ctx, e.js, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.Stop()
		return c
	}
	forgeries := map[string]string{
		// an event envelope pulled by a consumer: user_id matches the key
		"event envelope": `{"id":"ev-f1","type":"UserConfirmed","user_id":"u-f","occurred_at":"2026-01-01T00:00:00Z","actor":"x","command_id":"f1","data":{}}`,
		"API response":   `{"type":"io.nats.jetstream.api.v1.account_info_response","memory":0}`,
		"no revision":    `{"user_id":"u-f","state":"confirmed"}`,
		"other user":     `{"user_id":"u-g","state":"confirmed","revision":99}`,
		"unknown state":  `{"user_id":"u-f","state":"ok","revision":99}`,
		"not JSON":       `+OK`,
	}
	for name, forged := range forgeries {
		if _, err := e.js.Publish(ctx, key, []byte(forged)); err != nil {
			t.Fatal(err)
		}
		if got := watch().Check("u-f", "", time.Now().Unix()); got != revocation.ReasonDisabled {
			t.Errorf("%s in the bucket: a new watcher answers %v for the disabled user, want %v", name, got, revocation.ReasonDisabled)
		}
	}

	// A service starting now (nothing in memory) rebuilds the entry from
	// the user's events when the next one comes.
	fresh, err := natsadapter.NewRevocationView(ctx, e.js, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendOK(t, e.store, "u-f", v, event("u-f", "f3", 3, events.SessionRevoked{SessionID: "s-9"}))
	if err := natsadapter.NewProjector(e.js, fresh, natsadapter.ProjectorConfig{}).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	kv, err := e.js.KeyValue(ctx, natsadapter.RevocationsBucket)
	if err != nil {
		t.Fatal(err)
	}
	kve, err := kv.Get(ctx, "u-f")
	if err != nil {
		t.Fatal(err)
	}
	var got revocation.Entry
	if err := json.Unmarshal(kve.Value(), &got); err != nil {
		t.Fatal(err)
	}
	if got.State != revocation.StateDisabled || !got.RevokedBefore.Equal(at) || len(got.RevokedSessions) != 1 || got.Revision != 4 {
		t.Errorf("rebuilt entry %+v, want disabled, revoked before %s, session s-9, revision 4", got, at)
	}
	if r := watch().Check("u-f", "", time.Now().Unix()); r != revocation.ReasonDisabled {
		t.Errorf("after the rebuild: %v, want %v", r, revocation.ReasonDisabled)
	}
}

// A watcher that already holds a user's entry keeps it when a forged value
// comes (revision 0 loses); only watchers starting afterwards fail closed.
func TestRevocationWatcherKeepsEntryOverForgery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	v := appendOK(t, e.store, "u-ok", 0, registered("u-ok", "k0", "ok@x.com"))
	appendOK(t, e.store, "u-ok", v, event("u-ok", "k1", 1, events.UserConfirmed{}))
	view, err := natsadapter.NewRevocationView(ctx, e.js, nil)
	if err != nil {
		t.Fatal(err)
	}
	pr := natsadapter.NewProjector(e.js, view, natsadapter.ProjectorConfig{})
	if err := pr.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	live := revocation.NewChecker(revocation.Config{MaxStaleness: time.Hour})
	w, err := natsadapter.WatchRevocations(ctx, e.js, live, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := e.js.Publish(ctx, "$KV."+natsadapter.RevocationsBucket+".u-ok", []byte(`{"stream":"x","seq":1}`)); err != nil {
		t.Fatal(err)
	}
	// An update after the forgery: once the live watcher has it, it has
	// seen the forgery too (the watch delivers in order).
	seq := appendOK(t, e.store, "u-later", 0, registered("u-later", "l0", "later@x.com"))
	if err := pr.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for live.Revision() < seq {
		if time.Now().After(deadline) {
			t.Fatalf("live watcher at revision %d, want %d", live.Revision(), seq)
		}
		time.Sleep(time.Millisecond)
	}
	now := time.Now().Unix()
	if got := live.Check("u-ok", "", now); got != revocation.Allowed {
		t.Errorf("running watcher: %v for the confirmed user, want allowed (it keeps its entry)", got)
	}
	fresh := revocation.NewChecker(revocation.Config{MaxStaleness: time.Hour})
	w2, err := natsadapter.WatchRevocations(ctx, e.js, fresh, nil)
	if err != nil {
		t.Fatal(err)
	}
	w2.Stop()
	if got := fresh.Check("u-ok", "", now); got != revocation.ReasonDisabled {
		t.Errorf("new watcher: %v, want %v (fail closed)", got, revocation.ReasonDisabled)
	}
}

// A view entry whose acknowledgement never comes (its server died with it,
// as when a cluster node leading the bucket is killed) must fail the batch,
// which the projector then retries, instead of blocking the view forever.
func TestRevocationViewLostAckFailsTheBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	seq := appendOK(t, e.store, "u-a", 0, registered("u-a", "a0", "a@x.com"))
	view, err := natsadapter.NewRevocationView(ctx, e.js, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := natsadapter.NewProjector(e.js, view, natsadapter.ProjectorConfig{}).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}

	// The bucket's stream goes away and something that never answers
	// listens on its subjects: entry writes get no acknowledgement.
	if err := e.js.DeleteStream(ctx, "KV_"+natsadapter.RevocationsBucket); err != nil {
		t.Fatal(err)
	}
	sub, err := e.js.Conn().Subscribe("$KV."+natsadapter.RevocationsBucket+".>", func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := e.js.Conn().Flush(); err != nil {
		t.Fatal(err)
	}

	ev := event("u-a", "a1", 1, events.UserConfirmed{})
	ev.Seq = appendOK(t, e.store, "u-a", seq, ev)
	batch := projections.Batch{{Seq: ev.Seq, Subject: events.EventSubject("u-a", ev.Type), Event: ev}}
	done := make(chan error, 1)
	go func() { done <- view.Apply(context.Background(), batch) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Apply succeeded although no entry write was acknowledged")
		}
		t.Logf("Apply failed as it should: %v", err)
	case <-ctx.Done():
		t.Fatal("Apply is still waiting for an acknowledgement that will never come")
	}
}
