package nats_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/userlife/userlife/adapters/memory"
	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// A user's email is sealed in the log; deleting the user destroys the data
// key, after which the stored event is unchanged but the email reads
// [erased] everywhere: loads, projections (a rebuild from scratch) and
// history.
func TestDeleteErasesTheEmailFromTheLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	svc := e.service()
	const user, email = "u-shred", "Shred.Me@example.com"
	registerUser(t, svc, user, email)

	stream, err := e.js.Stream(ctx, natsadapter.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := stream.GetLastMsgForSubject(ctx, events.EventSubject(user, events.TypeUserRegistered))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bytes.ToLower(stored.Data), []byte("shred.me")) {
		t.Fatalf("the stored event shows the email: %s", stored.Data)
	}
	if !bytes.Contains(stored.Data, []byte(`"email_sealed":"v1:`)) {
		t.Fatalf("the stored event has no sealed email: %s", stored.Data)
	}

	// While the user lives, every reader sees the email.
	evs, err := e.store.Load(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	if got := evs[0].Data.(events.UserRegistered).Email; got != email {
		t.Fatalf("loaded email = %q, want %q", got, email)
	}
	mem := memory.New()
	project(t, e, mem)
	q := natsadapter.OpeningQueries(mem, e.store.Keys())
	u, err := q.GetUser(ctx, user)
	if err != nil || u.Email != email {
		t.Fatalf("projected user = %+v, %v; want email %q", u, err, email)
	}
	if got := historyEmail(t, q, user); got != email {
		t.Fatalf("history email = %q, want %q", got, email)
	}

	// Delete: the key is gone, the stored event is the same bytes.
	out, err := svc.Handle(ctx, &events.DeleteUser{CommandMeta: events.CommandMeta{CommandID: "c-del", UserID: user, Actor: "admin", Reason: "gdpr"}})
	if err != nil || out.Status != events.StatusAccepted {
		t.Fatalf("delete = %+v, %v", out, err)
	}
	if key, err := e.store.Keys().Key(ctx, user); err != nil || key != nil {
		t.Fatalf("data key after delete = %x, %v; want none", key, err)
	}
	again, err := stream.GetMsg(ctx, stored.Sequence)
	if err != nil || !bytes.Equal(again.Data, stored.Data) {
		t.Fatalf("the stored event changed: %v", err)
	}

	evs, err = e.store.Load(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	if got := evs[0].Data.(events.UserRegistered).Email; got != events.Erased {
		t.Fatalf("loaded email after delete = %q, want %q", got, events.Erased)
	}
	// A rebuild from the first event sees [erased] (whether it reads the
	// keys one by one or all at once); the history too.
	for _, backlog := range []uint64{1 << 40, 1} {
		fresh := memory.New()
		projectWith(t, e, fresh, natsadapter.ProjectorConfig{KeySnapshotBacklog: backlog})
		if got := historyEmail(t, natsadapter.OpeningQueries(fresh, e.store.Keys()), user); got != events.Erased {
			t.Fatalf("history email after delete = %q, want %q", got, events.Erased)
		}
		if _, err := fresh.GetUser(ctx, user); err == nil {
			t.Fatal("the deleted user has a row")
		}
	}
	if got := historyEmail(t, natsadapter.OpeningQueries(mem, e.store.Keys()), user); got != events.Erased {
		t.Fatalf("history email in the projection built before the delete = %q, want %q", got, events.Erased)
	}

	// The email is free again, and a new user's email is sealed with a key
	// of its own.
	registerUser(t, svc, "u-next", email)
	if k1, _ := e.store.Keys().Key(ctx, "u-next"); k1 == nil {
		t.Fatal("no data key for the new user")
	}
}

// An event sealed for one user and copied under another user's id cannot be
// opened: the ciphertext is bound to its user.
func TestSealedEmailIsBoundToItsUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	keys := e.store.Keys()
	ev, err := keys.Seal(ctx, registered("u-a", "c-a", "a@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.SealingKey(ctx, "u-b"); err != nil {
		t.Fatal(err)
	}
	ev.UserID = "u-b"
	if _, err := keys.Open(ctx, ev); err == nil {
		t.Fatal("a sealed email opened under another user's key")
	}
}

func project(t *testing.T, e *env, st *memory.Store) {
	t.Helper()
	projectWith(t, e, st, natsadapter.ProjectorConfig{})
}

func projectWith(t *testing.T, e *env, st *memory.Store, cfg natsadapter.ProjectorConfig) {
	t.Helper()
	pr := natsadapter.NewProjectors(e.js, []projections.Projection{st.Users(), st.Audit()}, cfg)
	if err := pr.CatchUp(testContext(t)); err != nil {
		t.Fatalf("CatchUp: %v", err)
	}
}

func historyEmail(t *testing.T, q projections.Queries, user string) string {
	t.Helper()
	h, err := q.History(testContext(t), user)
	if err != nil || len(h) == 0 || h[0].Type != events.TypeUserRegistered {
		t.Fatalf("history = %+v, %v", h, err)
	}
	var d struct {
		Email string `json:"email"`
	}
	if err := json.Unmarshal(h[0].Data, &d); err != nil {
		t.Fatal(err)
	}
	return d.Email
}

// Destroying a key overwrites it on the server's disk: no copy of the key's
// bytes is left in the stream's block files.
func TestDestroyedKeyIsNotOnDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, js := natstest.ProvisionedWith(t, natsadapter.ServerConfig{DataDir: dir})
	ctx := testContext(t)
	keys, err := natsadapter.NewKeyVault(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	key, err := keys.SealingKey(ctx, "u-disk")
	if err != nil {
		t.Fatal(err)
	}
	other, err := keys.SealingKey(ctx, "u-other")
	if err != nil {
		t.Fatal(err)
	}
	if again, err := keys.SealingKey(ctx, "u-disk"); err != nil || !bytes.Equal(again, key) {
		t.Fatalf("SealingKey again = %x, %v; want the user's existing key", again, err)
	}
	onDisk := func(b []byte) bool {
		t.Helper()
		files, err := filepath.Glob(filepath.Join(dir, "jetstream", "*", "streams", natsadapter.KeysStream, "msgs", "*.blk"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no block files of %s under %s (%v)", natsadapter.KeysStream, dir, err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(data, b) {
				return true
			}
		}
		return false
	}
	if !onDisk(key) {
		t.Fatal("the key is not in the block files before the delete: the test looks in the wrong place")
	}
	if err := keys.Destroy(ctx, "u-disk"); err != nil {
		t.Fatal(err)
	}
	if err := keys.Destroy(ctx, "u-disk"); err != nil {
		t.Fatalf("destroying again: %v", err)
	}
	if onDisk(key) {
		t.Fatal("the destroyed key's bytes are still in the block files")
	}
	if !onDisk(other) {
		t.Fatal("another user's key went with it")
	}
	if k, err := keys.Key(ctx, "u-disk"); err != nil || k != nil {
		t.Fatalf("Key after Destroy = %x, %v", k, err)
	}
}

// A projector catching up with a snapshot of the keys opens every email
// exactly as one reading the keys one by one.
func TestProjectorKeySnapshot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	svc := e.service()
	for i := range 30 {
		registerUser(t, svc, fmt.Sprintf("u-%02d", i), fmt.Sprintf("user%02d@example.com", i))
	}
	for i := range 10 {
		out, err := svc.Handle(ctx, &events.DeleteUser{CommandMeta: events.CommandMeta{CommandID: fmt.Sprintf("c-del-%d", i), UserID: fmt.Sprintf("u-%02d", i), Actor: "admin"}})
		if err != nil || out.Status != events.StatusAccepted {
			t.Fatalf("delete = %+v, %v", out, err)
		}
	}
	keys, err := e.store.Keys().Snapshot(ctx)
	if err != nil || len(keys) != 20 {
		t.Fatalf("Snapshot has %d keys (%v), want 20", len(keys), err)
	}
	one, all := memory.New(), memory.New()
	projectWith(t, e, one, natsadapter.ProjectorConfig{KeySnapshotBacklog: 1 << 40})
	projectWith(t, e, all, natsadapter.ProjectorConfig{KeySnapshotBacklog: 1})
	for i := 10; i < 30; i++ {
		id := fmt.Sprintf("u-%02d", i)
		a, err1 := one.GetUser(ctx, id)
		b, err2 := all.GetUser(ctx, id)
		if err1 != nil || err2 != nil || a.Email != fmt.Sprintf("user%02d@example.com", i) || a != b {
			t.Fatalf("user %s: one by one %+v (%v), snapshot %+v (%v)", id, a, err1, b, err2)
		}
	}
}

// BenchmarkKeyVault measures the data-key operations a registration
// (create), a cold load (read) and a delete (secure delete) add.
func BenchmarkKeyVault(b *testing.B) {
	_, js := natstest.Provisioned(b)
	ctx := context.Background()
	keys, err := natsadapter.NewKeyVault(ctx, js)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("create", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if _, err := keys.SealingKey(ctx, fmt.Sprintf("c-%d", i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("read", func(b *testing.B) {
		for b.Loop() {
			if k, err := keys.Key(ctx, "c-1"); err != nil || k == nil {
				b.Fatal(k, err)
			}
		}
	})
	b.Run("destroy", func(b *testing.B) {
		n := b.N
		for i := range n {
			if _, err := keys.SealingKey(ctx, fmt.Sprintf("d-%d", i)); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for i := range n {
			if err := keys.Destroy(ctx, fmt.Sprintf("d-%d", i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// sizeLimited fails every Apply of more than max messages, as a database
// does whose connections are cut before a large transaction can finish.
type sizeLimited struct {
	projections.Projection
	max      int
	failures atomic.Int64
}

func (s *sizeLimited) Apply(ctx context.Context, b projections.Batch) error {
	if len(b) > s.max {
		s.failures.Add(1)
		return fmt.Errorf("batch of %d: connection cut before it could finish", len(b))
	}
	return s.Projection.Apply(ctx, b)
}

// A batch that keeps failing is applied in halves until the pieces get
// through: the projector catches up instead of retrying the same batch
// forever.
func TestProjectorSplitsAFailingBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	svc := e.service()
	for i := range 40 {
		registerUser(t, svc, fmt.Sprintf("s-%02d", i), fmt.Sprintf("s%02d@example.com", i))
	}
	want, got := memory.New(), memory.New()
	projectWith(t, e, want, natsadapter.ProjectorConfig{})
	users := &sizeLimited{Projection: got.Users(), max: 7}
	audit := &sizeLimited{Projection: got.Audit(), max: 7}
	pr := natsadapter.NewProjectors(e.js, []projections.Projection{users, audit},
		natsadapter.ProjectorConfig{BatchSize: 1000, MaxLatency: 50 * time.Millisecond, RetryMin: time.Millisecond,
			Logger: slog.New(slog.DiscardHandler)})
	if err := pr.CatchUp(ctx); err != nil {
		t.Fatalf("CatchUp: %v", err)
	}
	if users.failures.Load() == 0 || audit.failures.Load() == 0 {
		t.Fatal("no batch was refused: the test tested nothing")
	}
	for i := range 40 {
		id := fmt.Sprintf("s-%02d", i)
		a, err1 := want.GetUser(ctx, id)
		b, err2 := got.GetUser(ctx, id)
		ha, _ := want.History(ctx, id)
		hb, _ := got.History(ctx, id)
		if err1 != nil || err2 != nil || a != b || !reflect.DeepEqual(ha, hb) {
			t.Fatalf("user %s: in one batch %+v (%v), in pieces %+v (%v)", id, a, err1, b, err2)
		}
	}
}
