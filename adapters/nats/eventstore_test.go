package nats_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/domain"
	"github.com/userlife/userlife/events"
)

func TestEventStoreLoadUnknownUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Another user's events must not make the unknown one appear.
	appendOK(t, e.store, "u-other", 0, registered("u-other", "c-other", "o@x.com"))

	got, err := e.store.Load(testContext(t), "u-unknown")
	if err != nil {
		t.Fatalf("Load(unknown) error = %v, want nil", err)
	}
	if len(got) != 0 {
		t.Errorf("Load(unknown) = %d events, want 0: %+v", len(got), got)
	}
}

func TestEventStoreRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	const user = "u-round-trip"
	reg := registered(user, "c-register", "Round.Trip@Example.com")
	seq1 := appendOK(t, e.store, user, 0, reg)
	rev := revoked(user, "c-revoke", 1)
	seq2 := appendOK(t, e.store, user, seq1, rev)
	if seq1 == 0 || seq2 <= seq1 {
		t.Fatalf("Append sequences = %d then %d, want increasing and > 0", seq1, seq2)
	}

	got, err := e.store.Load(ctx, user)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	reg.Seq, rev.Seq = seq1, seq2
	want := []events.Event{reg, rev}
	if len(got) != len(want) {
		t.Fatalf("Load = %d events, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.OccurredAt.Equal(w.OccurredAt) {
			t.Errorf("event %d OccurredAt = %v, want %v", i, g.OccurredAt, w.OccurredAt)
		}
		g.OccurredAt, w.OccurredAt = time.Time{}, time.Time{}
		// The payload must come back typed (a value, not a map or pointer),
		// with its time equal to what was stored.
		switch d := g.Data.(type) {
		case events.SessionsRevoked:
			wd := w.Data.(events.SessionsRevoked)
			if !d.RevokedBefore.Equal(wd.RevokedBefore) {
				t.Errorf("event %d RevokedBefore = %v, want %v", i, d.RevokedBefore, wd.RevokedBefore)
			}
			g.Data, w.Data = nil, nil
		case events.UserRegistered:
			// Stored sealed, loaded opened.
			if d.EmailSealed == "" {
				t.Errorf("event %d: email not sealed in the stream", i)
			}
			d.EmailSealed = ""
			g.Data = d
		default:
			t.Errorf("event %d payload is %T, want %T", i, g.Data, w.Data)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, g, w)
		}
	}

	// The stored message carries the CloudEvents attributes and the
	// command's message id.
	stream, err := e.js.Stream(ctx, natsadapter.EventsStream)
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	msg, err := stream.GetMsg(ctx, seq1)
	if err != nil {
		t.Fatalf("GetMsg(%d): %v", seq1, err)
	}
	if want := events.EventSubject(user, events.TypeUserRegistered); msg.Subject != want {
		t.Errorf("subject = %q, want %q", msg.Subject, want)
	}
	headers := []struct{ name, want string }{
		{events.HeaderCESpecVersion, "1.0"},
		{events.HeaderCEID, reg.ID},
		{events.HeaderCEType, "io.userlife.UserRegistered"},
		{events.HeaderCESource, events.DefaultSource},
		{events.HeaderCETime, reg.OccurredAt.Format(time.RFC3339Nano)},
		{events.HeaderCESubject, user},
		{jetstream.MsgIDHeader, "c-register:0"},
	}
	for _, h := range headers {
		if got := msg.Header.Get(h.name); got != h.want {
			t.Errorf("header %s = %q, want %q", h.name, got, h.want)
		}
	}
}

func TestEventStoreLoadPaginatesAndFiltersByUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const (
		user  = "u-many"
		total = 600 // more than two direct-get batches
	)
	others := []string{"u-many-2", "u-man", "u-other"} // "u-man" shares a prefix
	var version uint64
	otherVersion := map[string]uint64{}
	for i := range total {
		version = appendOK(t, e.store, user, version, revoked(user, fmt.Sprintf("c-%d", i), i))
		if i%2 == 0 {
			o := others[i%len(others)]
			otherVersion[o] = appendOK(t, e.store, o, otherVersion[o], revoked(o, fmt.Sprintf("c-%s-%d", o, i), i))
		}
	}

	got, err := e.store.Load(testContext(t), user)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(got) != total {
		t.Fatalf("Load = %d events, want %d", len(got), total)
	}
	var prev uint64
	for i, ev := range got {
		if ev.UserID != user {
			t.Fatalf("event %d is about user %q, want %q", i, ev.UserID, user)
		}
		if want := fmt.Sprintf("c-%d", i); ev.CommandID != want {
			t.Fatalf("event %d command_id = %q, want %q (stream order)", i, ev.CommandID, want)
		}
		if ev.Seq <= prev {
			t.Fatalf("event %d seq = %d after %d, want increasing", i, ev.Seq, prev)
		}
		prev = ev.Seq
	}
	if prev != version {
		t.Errorf("last loaded seq = %d, want the last append's %d", prev, version)
	}
}

// An expired deadline must fail the load: an empty or cut history would be
// decided on as if the user were unknown.
func TestEventStoreLoadTimeoutIsAnError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const user = "u-timeout"
	appendOK(t, e.store, user, 0, registered(user, "c-1", "t@x.com"))

	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	got, err := e.store.Load(ctx, user)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Load(expired ctx) = %d events, error %v; want context.DeadlineExceeded", len(got), err)
	}
}

func TestEventStoreAppendConflicts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const user = "u-conflict"
	seq1 := appendOK(t, e.store, user, 0, registered(user, "c-1", "c@x.com"))
	seq2 := appendOK(t, e.store, user, seq1, revoked(user, "c-2", 2))

	tests := []struct {
		name     string
		expected uint64
	}{
		{"stale expected version", seq1},
		{"expected 0 for an existing user", 0},
		{"expected version ahead of the user", seq2 + 10},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := revoked(user, fmt.Sprintf("c-stale-%d", i), 10+i)
			_, err := e.store.Append(testContext(t), user, tt.expected, []events.Event{ev})
			if !errors.Is(err, domain.ErrConflict) {
				t.Errorf("Append(expected %d) error = %v, want domain.ErrConflict", tt.expected, err)
			}
		})
	}
	if got := streamMsgs(t, e.js, natsadapter.EventsStream); got != 2 {
		t.Errorf("stream holds %d messages after the conflicts, want 2", got)
	}
}

func TestEventStoreAppendRejectsEventOfAnotherUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := e.store.Append(testContext(t), "u-a", 0, []events.Event{registered("u-b", "c-1", "b@x.com")})
	if err == nil {
		t.Fatal("Append of user u-b's event to u-a succeeded, want an error")
	}
	if got := streamMsgs(t, e.js, natsadapter.EventsStream); got != 0 {
		t.Errorf("stream holds %d messages, want 0", got)
	}
}

// A retry after a lost ack publishes the same message id with the same,
// now stale, expected version: the store must recognise its own write.
func TestEventStoreAppendRetryAfterLostAck(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	const user = "u-retry"
	seq1 := appendOK(t, e.store, user, 0, registered(user, "c-1", "r@x.com"))
	ev := revoked(user, "c-2", 2)

	first, err := e.store.Append(ctx, user, seq1, []events.Event{ev})
	if err != nil {
		t.Fatalf("first Append: %v", err)
	}
	second, err := e.store.Append(ctx, user, seq1, []events.Event{ev})
	if err != nil {
		t.Fatalf("retried Append error = %v, want nil (the write is ours)", err)
	}
	if second != first {
		t.Errorf("retried Append seq = %d, want the first write's %d", second, first)
	}
	if got := streamMsgs(t, e.js, natsadapter.EventsStream); got != 2 {
		t.Errorf("stream holds %d messages, want 2 (register + one revoke)", got)
	}

	// A different command at the same stale version is a real conflict.
	_, err = e.store.Append(ctx, user, seq1, []events.Event{revoked(user, "c-3", 3)})
	if !errors.Is(err, domain.ErrConflict) {
		t.Errorf("Append of another command at a stale version error = %v, want domain.ErrConflict", err)
	}
}

func TestEventStoreAppendRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const user = "u-race"
	version := appendOK(t, e.store, user, 0, registered(user, "c-0", "race@x.com"))

	const writers = 2
	start := make(chan struct{})
	errs := make([]error, writers)
	seqs := make([]uint64, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			ev := revoked(user, fmt.Sprintf("c-racer-%d", i), i+1)
			<-start
			seqs[i], errs[i] = e.store.Append(testContext(t), user, version, []events.Event{ev})
		})
	}
	close(start)
	wg.Wait()

	wins, conflicts := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
			if seqs[i] <= version {
				t.Errorf("winner %d seq = %d, want > %d", i, seqs[i], version)
			}
		case errors.Is(err, domain.ErrConflict):
			conflicts++
		default:
			t.Errorf("writer %d error = %v, want nil or domain.ErrConflict", i, err)
		}
	}
	if wins != 1 || conflicts != writers-1 {
		t.Errorf("wins, conflicts = %d, %d; want 1, %d", wins, conflicts, writers-1)
	}
	if got := streamMsgs(t, e.js, natsadapter.EventsStream); got != 2 {
		t.Errorf("stream holds %d messages, want 2", got)
	}
}
