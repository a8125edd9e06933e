package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/adapters/postgres/pgtest"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// buildUserlife compiles the userlife binary once per test binary: the
// tests run the real service and CLI next to the example.
var buildUserlife = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "todopurge-e2e")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "userlife")
	out, err := exec.Command("go", "build", "-o", bin, "../userlife").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func userlifeBin(t testing.TB) string {
	t.Helper()
	bin, err := buildUserlife()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// world is one test's userlife: an embedded NATS server of its own, a
// `userlife serve` process on it, a client, and a database for todopurge.
type world struct {
	url     string
	js      jetstream.JetStream
	client  *natsadapter.Client
	erasure *natsadapter.Erasures
	pgURL   string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	srv := natstest.Server(t)
	w := &world{url: srv.ClientURL(), pgURL: pgtest.DSN(t)}
	serve := exec.Command(userlifeBin(t), "serve", "--nats", w.url, "--http=", "--ack-wait", "3s")
	stderr, err := serve.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = serve.Process.Kill(); _, _ = serve.Process.Wait() })
	ready := make(chan struct{})
	var logs strings.Builder
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			logs.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "userlife serving on") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("userlife serve did not start:\n%s", logs.String())
	}
	_, w.js = natstest.Connect(t, w.url)
	ctx := testContext(t)
	if w.client, err = natsadapter.NewClient(ctx, w.js); err != nil {
		t.Fatal(err)
	}
	if w.erasure, err = natsadapter.NewErasures(ctx, w.js); err != nil {
		t.Fatal(err)
	}
	return w
}

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// do sends a command and requires the given status.
func (w *world) do(t *testing.T, cmd events.Command, want events.Status) events.Outcome {
	t.Helper()
	out, err := w.client.Do(testContext(t), cmd)
	if err != nil || out.Status != want {
		t.Fatalf("%s: %+v, %v; want %s", cmd.CommandName(), out, err, want)
	}
	return out
}

// liveUser registers and confirms id.
func (w *world) liveUser(t *testing.T, id string) {
	t.Helper()
	w.do(t, &events.RegisterUser{CommandMeta: events.CommandMeta{UserID: id, Actor: "ops"}, Email: id + "@example.com"}, events.StatusAccepted)
	w.do(t, &events.ConfirmUser{CommandMeta: events.CommandMeta{UserID: id, Actor: "ops"}}, events.StatusAccepted)
}

// deleteUser deletes id and returns the UserDeleted's sequence.
func (w *world) deleteUser(t *testing.T, id string) uint64 {
	t.Helper()
	return w.do(t, &events.DeleteUser{CommandMeta: events.CommandMeta{UserID: id, Actor: "ops", Reason: "GDPR request"}}, events.StatusAccepted).EventSeq
}

// sent is one RecordDataPurged todopurge sent, with what came back.
type sent struct {
	cmd events.RecordDataPurged
	out events.Outcome
	err error
}

// recordingSender passes commands to the real client and reports each on
// a channel; failFirst makes the first send of each command id fail after
// calling onFail, as if the process died between the purge's commit and
// the receipt.
type recordingSender struct {
	next      sender
	sent      chan sent
	failFirst bool
	onFail    func(cmd *events.RecordDataPurged)

	mu     sync.Mutex
	failed map[string]bool
}

func newRecorder(failFirst bool) *recordingSender {
	return &recordingSender{sent: make(chan sent, 100), failFirst: failFirst, failed: map[string]bool{}}
}

func (r *recordingSender) wrap(s sender) sender { r.next = s; return r }

func (r *recordingSender) Do(ctx context.Context, cmd events.Command) (events.Outcome, error) {
	c := *cmd.(*events.RecordDataPurged)
	r.mu.Lock()
	fail := r.failFirst && !r.failed[c.CommandID]
	r.failed[c.CommandID] = true
	r.mu.Unlock()
	if fail {
		if r.onFail != nil {
			r.onFail(&c)
		}
		err := errors.New("injected: the receipt was not sent")
		r.sent <- sent{cmd: c, err: err}
		return events.Outcome{}, err
	}
	out, err := r.next.Do(ctx, cmd)
	r.sent <- sent{cmd: c, out: out, err: err}
	return out, err
}

// next waits for the next send.
func (r *recordingSender) next1(t *testing.T) sent {
	t.Helper()
	select {
	case s := <-r.sent:
		return s
	case <-time.After(90 * time.Second):
		t.Fatal("todopurge sent no RecordDataPurged")
		return sent{}
	}
}

// startPurger runs the example in-process against w.
func (w *world) startPurger(t *testing.T, rec *recordingSender) *purger {
	t.Helper()
	cfg := Config{NATSURL: w.url, PostgresURL: w.pgURL, Service: "todo", Description: "to-do items", AckWait: 2 * time.Second}
	if rec != nil {
		cfg.wrapSender = rec.wrap
	}
	p, err := start(testContext(t), cfg)
	if err != nil {
		t.Fatalf("start todopurge: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// receipt reads id's erasure receipt.
func (w *world) receipt(t *testing.T, id string) projections.ErasureReceipt {
	t.Helper()
	r, err := w.erasure.Receipt(testContext(t), id)
	if err != nil {
		t.Fatalf("erasure receipt of %s: %v", id, err)
	}
	return r
}

// purgeEvents counts the UserDataPurged events of id in the stream.
func (w *world) purgeEvents(t *testing.T, id string) int {
	t.Helper()
	es, err := natsadapter.NewEventStore(testContext(t), w.js)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := es.Load(testContext(t), id)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == events.TypeUserDataPurged {
			n++
		}
	}
	return n
}

func (p *purger) items(t *testing.T, owner string) int64 {
	t.Helper()
	n, err := p.store.countItems(testContext(t), owner)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPurgeEndToEnd: create a user, give it items, delete it: its items
// are gone, another user's stay, the receipt says todo purged 3 items and
// billing (registered, silent) is pending, in the API and in the CLI.
func TestPurgeEndToEnd(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := testContext(t)
	if _, err := w.erasure.Services().Register(ctx, projections.DataService{Service: "billing", Description: "invoices"}); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(false)
	p := w.startPurger(t, rec)
	w.liveUser(t, "ann")
	w.liveUser(t, "bob")
	if err := p.store.addItems(ctx, "ann", "buy milk", "call mum", "file taxes"); err != nil {
		t.Fatal(err)
	}
	if err := p.store.addItems(ctx, "bob", "walk the dog", "fix the bike"); err != nil {
		t.Fatal(err)
	}

	delSeq := w.deleteUser(t, "ann")
	s := rec.next1(t)
	if s.err != nil || s.cmd.UserID != "ann" || s.cmd.Service != "todo" || s.cmd.ItemsRemoved != 3 || s.out.Status != events.StatusAccepted {
		t.Fatalf("sent %+v → %+v, %v; want todo's receipt for ann, 3 items, accepted", s.cmd, s.out, s.err)
	}
	if got := p.items(t, "ann"); got != 0 {
		t.Errorf("ann has %d items after the purge, want 0", got)
	}
	if got := p.items(t, "bob"); got != 2 {
		t.Errorf("bob has %d items, want his 2 untouched", got)
	}
	r := w.receipt(t, "ann")
	if r.DeleteSeq != delSeq || r.Complete || len(r.Services) != 2 {
		t.Fatalf("receipt %+v, want the delete at seq %d, incomplete, two services", r, delSeq)
	}
	billing, todo := r.Services[0], r.Services[1]
	if billing.Service != "billing" || billing.Status != projections.ErasurePending {
		t.Errorf("billing = %+v, want pending", billing)
	}
	if todo.Service != "todo" || todo.Status != projections.ErasurePurged || todo.ItemsRemoved != 3 ||
		todo.EventSeq != s.out.EventSeq || todo.Actor != "todo" {
		t.Errorf("todo = %+v, want purged, 3 items, at seq %d, by todo", todo, s.out.EventSeq)
	}

	// The CLI shows the same, from the command line.
	out, err := exec.Command(userlifeBin(t), "user", "erasure", "ann", "--nats", w.url).CombinedOutput()
	if err != nil {
		t.Fatalf("userlife user erasure: %v\n%s", err, out)
	}
	want := "billing: pending; todo: purged 3 items at " + todo.PurgedAt.UTC().Format(time.RFC3339)
	if !strings.Contains(string(out), want) || !strings.Contains(string(out), "complete    no") {
		t.Errorf("userlife user erasure ann:\n%s\nwant a line with %q, and complete: no", out, want)
	}
	out, err = exec.Command(userlifeBin(t), "user", "show", "ann", "--nats", w.url).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "erasure  "+want) || !strings.Contains(string(out), "UserDataPurged") {
		t.Errorf("userlife user show ann: %v\n%s\nwant the erasure line and the UserDataPurged event", err, out)
	}
	out, err = exec.Command(userlifeBin(t), "user", "erasure", "bob", "--nats", w.url).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "user bob is not deleted") {
		t.Errorf("userlife user erasure bob (live): %v\n%s\nwant a failure saying bob is not deleted", err, out)
	}
}

// TestPurgeRedeliveredBeforeAck: the receipt fails after the purge
// committed (as if the process died there), so the UserDeleted is nacked
// and JetStream delivers it again. The second delivery purges nothing
// (an item added for ann in between stays: the delete did not run again)
// and sends the same receipt, count included.
func TestPurgeRedeliveredBeforeAck(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := testContext(t)
	rec := newRecorder(true)
	rec.onFail = func(cmd *events.RecordDataPurged) {
		// A marker: were the delete to run again, it would remove this.
		conn, err := pgx.Connect(ctx, w.pgURL)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `INSERT INTO todo_items (owner_id, title) VALUES ($1, 'marker')`, cmd.UserID); err != nil {
			t.Error(err)
		}
	}
	p := w.startPurger(t, rec)
	w.liveUser(t, "ann")
	if err := p.store.addItems(ctx, "ann", "a", "b", "c"); err != nil {
		t.Fatal(err)
	}
	w.deleteUser(t, "ann")

	first := rec.next1(t)
	if first.err == nil || first.cmd.ItemsRemoved != 3 {
		t.Fatalf("first send %+v, %v; want the injected failure with 3 items", first.cmd, first.err)
	}
	second := rec.next1(t)
	if second.err != nil || second.out.Status != events.StatusAccepted {
		t.Fatalf("second send %+v → %+v, %v; want accepted", second.cmd, second.out, second.err)
	}
	if second.cmd != first.cmd {
		t.Errorf("the redelivery sent %+v, want the same receipt as the first delivery %+v", second.cmd, first.cmd)
	}
	if got := p.items(t, "ann"); got != 1 {
		t.Errorf("ann has %d items, want only the marker added after the purge: the redelivery must not purge again", got)
	}
	r := w.receipt(t, "ann")
	if len(r.Services) != 1 || r.Services[0].ItemsRemoved != 3 || r.Services[0].EventSeq != second.out.EventSeq || !r.Complete {
		t.Errorf("receipt %+v, want todo purged 3 items at seq %d, complete", r, second.out.EventSeq)
	}
	if n := w.purgeEvents(t, "ann"); n != 1 {
		t.Errorf("%d UserDataPurged events for ann, want 1", n)
	}
}

// TestPurgeReplayedAfterAck: the consumer is deleted and the example
// restarted, so every UserDeleted is delivered again from the first event
// (as for a service that starts over). Nothing is purged again, the same
// receipt is sent with the same command id, and the receipt is unchanged.
func TestPurgeReplayedAfterAck(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := testContext(t)
	rec := newRecorder(false)
	p := w.startPurger(t, rec)
	w.liveUser(t, "ann")
	if err := p.store.addItems(ctx, "ann", "a", "b", "c"); err != nil {
		t.Fatal(err)
	}
	w.deleteUser(t, "ann")
	first := rec.next1(t)
	if first.err != nil || first.cmd.ItemsRemoved != 3 || first.out.Status != events.StatusAccepted {
		t.Fatalf("first send %+v → %+v, %v; want 3 items accepted", first.cmd, first.out, first.err)
	}
	before := w.receipt(t, "ann")

	if err := p.Close(); err != nil {
		t.Fatalf("close todopurge: %v", err)
	}
	if err := w.js.DeleteConsumer(ctx, natsadapter.EventsStream, "todo-purge"); err != nil {
		t.Fatalf("delete the consumer: %v", err)
	}
	p = w.startPurger(t, rec)
	again := rec.next1(t)
	if again.err != nil || again.cmd != first.cmd {
		t.Fatalf("replayed send %+v, %v; want the first receipt again %+v", again.cmd, again.err, first.cmd)
	}
	// The same command id: the core answers with the event it appended
	// the first time.
	if again.out.Status != events.StatusAccepted || again.out.EventSeq != first.out.EventSeq {
		t.Errorf("replayed outcome %+v, want accepted at the first receipt's seq %d", again.out, first.out.EventSeq)
	}
	if after := w.receipt(t, "ann"); !reflect.DeepEqual(after, before) {
		t.Errorf("receipt after the replay:\n%+v\nwant unchanged:\n%+v", after, before)
	}
	if n := w.purgeEvents(t, "ann"); n != 1 {
		t.Errorf("%d UserDataPurged events for ann, want 1", n)
	}
}

// TestPurgeTwoInstances: two instances share the consumer's queue group;
// every deleted user is purged once and gets one receipt with its count.
func TestPurgeTwoInstances(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := testContext(t)
	rec := newRecorder(false)
	p1 := w.startPurger(t, rec)
	w.startPurger(t, rec)
	const users = 8
	for i := range users {
		id := fmt.Sprintf("u%d", i)
		w.liveUser(t, id)
		titles := make([]string, i+1)
		for j := range titles {
			titles[j] = fmt.Sprintf("item %d", j)
		}
		if err := p1.store.addItems(ctx, id, titles...); err != nil {
			t.Fatal(err)
		}
	}
	for i := range users {
		w.deleteUser(t, fmt.Sprintf("u%d", i))
	}
	for range users {
		if s := rec.next1(t); s.err != nil || s.out.Status != events.StatusAccepted {
			t.Fatalf("send %+v → %+v, %v; want accepted", s.cmd, s.out, s.err)
		}
	}
	for i := range users {
		id := fmt.Sprintf("u%d", i)
		r := w.receipt(t, id)
		if len(r.Services) != 1 || r.Services[0].ItemsRemoved != int64(i+1) || !r.Complete {
			t.Errorf("%s: receipt %+v, want todo purged %d items", id, r, i+1)
		}
		if n := w.purgeEvents(t, id); n != 1 {
			t.Errorf("%s: %d UserDataPurged events, want 1", id, n)
		}
		if n := p1.items(t, id); n != 0 {
			t.Errorf("%s: %d items left", id, n)
		}
	}
	var records int
	if err := p1.store.pool.QueryRow(ctx, `SELECT count(*) FROM todo_purges`).Scan(&records); err != nil || records != users {
		t.Errorf("%d purge records, %v; want %d", records, err, users)
	}
	select {
	case s := <-rec.sent:
		t.Errorf("an extra receipt was sent: %+v", s.cmd)
	default:
	}
}

// TestPurgeSkipsUndecodable: a message on a UserDeleted subject that is
// not an event is logged and acknowledged; the deletions after it are
// handled.
func TestPurgeSkipsUndecodable(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := testContext(t)
	rec := newRecorder(false)
	w.startPurger(t, rec)
	bad, err := w.js.Publish(ctx, events.EventSubject("zed", events.TypeUserDeleted), []byte(`{"not":"an event"`))
	if err != nil {
		t.Fatal(err)
	}
	w.liveUser(t, "ann")
	w.deleteUser(t, "ann")
	if s := rec.next1(t); s.err != nil || s.cmd.UserID != "ann" {
		t.Fatalf("send %+v, %v; want ann's receipt", s.cmd, s.err)
	}
	cons, err := w.js.PushConsumer(ctx, natsadapter.EventsStream, "todo-purge")
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.AckFloor.Stream >= bad.Sequence && info.NumAckPending == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the undecodable message (seq %d) was never acknowledged: ack floor %d, %d pending", bad.Sequence, info.AckFloor.Stream, info.NumAckPending)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
