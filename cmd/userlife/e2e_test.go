package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
)

// buildBinary compiles userlife once per test binary.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "userlife-e2e")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "userlife")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func binary(t testing.TB) string {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is a running `userlife serve`.
type proc struct {
	cmd  *exec.Cmd
	logs *strings.Builder
	mu   *sync.Mutex
}

// startServe runs the binary and waits for its "serving" line. The HTTP
// listener is off (the tests run several serves at once); args may turn it
// on again.
func startServe(t testing.TB, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"serve", "--ack-wait", "3s", "--http="}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: &strings.Builder{}, mu: &sync.Mutex{}}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if strings.Contains(sc.Text(), "userlife serving on") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start:\n%s", p.output())
	}
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func (p *proc) kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = p.cmd.Process.Wait()
}

func (p *proc) stop(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM:\n%s", err, p.output())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not stop after SIGTERM:\n%s", p.output())
	}
}

// ledger reads back what the service wrote: every outcome and every event.
type ledger struct {
	outcomes map[string][]events.Outcome // by command id
	events   map[string][]events.Event   // by command id
}

func readLedger(t *testing.T, js jetstream.JetStream) ledger {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l := ledger{outcomes: map[string][]events.Outcome{}, events: map[string][]events.Event{}}
	readAll(ctx, t, js, natsadapter.ResultsStream, func(m jetstream.Msg) {
		o, err := events.DecodeOutcome(m.Data())
		if err != nil {
			t.Fatalf("outcome %s: %v", m.Subject(), err)
		}
		l.outcomes[o.CommandID] = append(l.outcomes[o.CommandID], o)
	})
	readAll(ctx, t, js, natsadapter.EventsStream, func(m jetstream.Msg) {
		e, err := events.Decode(m.Data())
		if err != nil {
			t.Fatalf("event %s: %v", m.Subject(), err)
		}
		l.events[e.CommandID] = append(l.events[e.CommandID], e)
	})
	return l
}

// readAll reads a stream from the first message to the last with an
// ordered consumer.
func readAll(ctx context.Context, t *testing.T, js jetstream.JetStream, stream string, f func(jetstream.Msg)) {
	t.Helper()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs == 0 {
		return
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for n := uint64(0); n < info.State.Msgs; {
		batch, err := c.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			f(m)
			n++
			md, _ := m.Metadata()
			if md != nil && md.Sequence.Stream >= info.State.LastSeq {
				return
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			t.Fatal(err)
		}
	}
}

// waitOutcomes polls until every command id has an outcome.
func waitOutcomes(t *testing.T, js jetstream.JetStream, ids []string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	results, err := natsadapter.NewResults(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		for {
			if _, err := results.Get(ctx, id); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("no outcome for command %s after %s", id, timeout)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// checkExactlyOnce: every command has one outcome; every accepted command
// exactly one event; nothing else appended an event.
func checkExactlyOnce(t *testing.T, l ledger, ids []string) (accepted int) {
	t.Helper()
	sent := map[string]bool{}
	for _, id := range ids {
		sent[id] = true
		outs := l.outcomes[id]
		if len(outs) != 1 {
			t.Errorf("command %s: %d outcomes, want 1", id, len(outs))
			continue
		}
		evs := l.events[id]
		switch outs[0].Status {
		case events.StatusAccepted:
			accepted++
			if len(evs) != 1 {
				t.Errorf("accepted command %s: %d events, want 1", id, len(evs))
			} else if evs[0].Seq != 0 && evs[0].Seq != outs[0].EventSeq {
				t.Errorf("command %s: outcome event_seq %d, event seq %d", id, outs[0].EventSeq, evs[0].Seq)
			}
		default:
			if len(evs) != 0 {
				t.Errorf("%s command %s: %d events, want 0", outs[0].Status, id, len(evs))
			}
		}
	}
	for id := range l.events {
		if !sent[id] {
			t.Errorf("event from a command nobody sent: %s", id)
		}
	}
	return accepted
}

// workload makes n commands over users u0..u(n/10): each user is
// registered, confirmed, then gets revocations and disable/enable turns.
func workload(n int) []events.Command {
	users := max(n/10, 1)
	var cmds []events.Command
	meta := func(u int) events.CommandMeta {
		return events.CommandMeta{UserID: fmt.Sprintf("u%d", u), Actor: "e2e", Reason: "load"}
	}
	for step := 0; len(cmds) < n; step++ {
		for u := 0; u < users && len(cmds) < n; u++ {
			m := meta(u)
			switch step {
			case 0:
				cmds = append(cmds, &events.RegisterUser{CommandMeta: m, Email: fmt.Sprintf("u%d@example.com", u)})
			case 1:
				cmds = append(cmds, &events.ConfirmUser{CommandMeta: m})
			default:
				switch step % 3 {
				case 0:
					cmds = append(cmds, &events.DisableUser{CommandMeta: m})
				case 1:
					cmds = append(cmds, &events.EnableUser{CommandMeta: m})
				default:
					cmds = append(cmds, &events.RevokeSessions{CommandMeta: m})
				}
			}
		}
	}
	return cmds
}

// sendAll publishes commands (not waiting for outcomes) from a few
// goroutines and returns their ids in order.
func sendAll(t *testing.T, client *natsadapter.Client, cmds []events.Command) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	ids := make([]string, len(cmds))
	var wg sync.WaitGroup
	errs := make(chan error, len(cmds))
	const senders = 8
	for w := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(cmds); i += senders {
				id, err := client.Send(ctx, cmds[i])
				if err != nil {
					errs <- err
					return
				}
				ids[i] = id
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return ids
}

// TestE2EKillMidway runs the real binary, sends 2,000 commands, SIGKILLs it
// midway, restarts it, and proves every command has exactly one outcome and
// every accepted command exactly one event.
func TestE2EKillMidway(t *testing.T) {
	t.Parallel()
	interruptMidway(t, func(p *proc) { p.kill(t) })
}

// TestE2ETermMidway is the same with SIGTERM: a graceful stop under load
// loses nothing either.
func TestE2ETermMidway(t *testing.T) {
	t.Parallel()
	interruptMidway(t, func(p *proc) { p.stop(t) })
}

func interruptMidway(t *testing.T, interrupt func(*proc)) {
	data := t.TempDir()
	addr := freeAddr(t)
	url := "nats://" + addr
	// One command of each type at a time, so the stop lands midway.
	serve := startServe(t, "--data", data, "--nats-listen", addr, "--concurrency", "1")

	_, js := natstest.Connect(t, url)
	client, err := natsadapter.NewClient(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	cmds := workload(2000)
	ids := sendAll(t, client, cmds)

	// Kill once some, but not all, commands are decided.
	results, _ := natsadapter.NewResults(context.Background(), js)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := results.Get(context.Background(), ids[len(ids)/4]); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress before the kill:\n%s", serve.output())
		}
		time.Sleep(5 * time.Millisecond)
	}
	s, _ := js.Stream(context.Background(), natsadapter.ResultsStream)
	info, _ := s.Info(context.Background())
	interrupt(serve) // the embedded NATS server stops with it
	if info != nil {
		t.Logf("stopped with about %d of %d outcomes published", info.State.Msgs, len(ids))
	}

	startServe(t, "--data", data, "--nats-listen", addr)
	waitOutcomes(t, js, ids, 120*time.Second)
	l := readLedger(t, js)
	accepted := checkExactlyOnce(t, l, ids)
	t.Logf("%d commands, %d accepted, each with exactly one outcome", len(ids), accepted)
	// Registrations depend on nothing: every one must be accepted.
	for i, c := range cmds {
		if _, ok := c.(*events.RegisterUser); ok {
			if outs := l.outcomes[ids[i]]; len(outs) == 1 && outs[0].Status != events.StatusAccepted {
				t.Errorf("RegisterUser %s: %+v, want accepted", c.Meta().UserID, outs[0])
			}
		}
	}
}

// TestE2ECommandsWhileDown: commands published while serve is down are
// handled when it comes back, and SIGTERM stops it cleanly.
func TestE2ECommandsWhileDown(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	addr := freeAddr(t)
	url := "nats://" + addr
	serve := startServe(t, "--data", data, "--nats-listen", addr)
	serve.stop(t) // streams exist now; the server goes with it

	// A plain NATS server on the same store keeps the queue while the
	// service is down.
	ns, err := natsadapter.StartServer(natsadapter.ServerConfig{Listen: addr, DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	_, js := natstest.Connect(t, url)
	client, err := natsadapter.NewClient(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	ids := sendAll(t, client, workload(100))
	ns.Shutdown()

	startServe(t, "--data", data, "--nats-listen", addr)
	waitOutcomes(t, js, ids, 60*time.Second)
	checkExactlyOnce(t, readLedger(t, js), ids)
}

// TestE2ETwoServes: two serve processes on one external NATS server split
// the queue and never apply a command twice; when one stops, the other
// keeps consuming.
func TestE2ETwoServes(t *testing.T) {
	t.Parallel()
	ns := natstest.Server(t)
	url := ns.ClientURL()
	a := startServe(t, "--nats", url, "--log-level", "debug")
	b := startServe(t, "--nats", url, "--log-level", "debug")
	_, js := natstest.Connect(t, url)
	client, err := natsadapter.NewClient(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	cmds := workload(1000)
	first := sendAll(t, client, cmds[:600])
	waitOutcomes(t, js, first, 120*time.Second)
	na, nb := strings.Count(a.output(), "command handled"), strings.Count(b.output(), "command handled")
	t.Logf("serve A handled %d commands, serve B %d", na, nb)
	if na == 0 || nb == 0 {
		t.Errorf("the queue was not shared: A handled %d, B %d", na, nb)
	}

	a.stop(t)
	rest := sendAll(t, client, cmds[600:])
	waitOutcomes(t, js, rest, 120*time.Second)
	checkExactlyOnce(t, readLedger(t, js), append(first, rest...))
}
