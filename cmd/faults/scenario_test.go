package faults

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
)

// Load: 200 commands a second, 3,000 commands (15 s) per scenario.
const (
	rate     = 200
	commands = 3000
)

// scenario drives one service under load while faults are injected.
type scenario struct {
	t        *testing.T
	natsURL  string
	pgURL    string
	js       jetstream.JetStream
	sender   *sender
	ids      []string
	setup    int          // setup commands (all answered before the load)
	sent     atomic.Int64 // load commands acknowledged by the queue
	outcomes *monitor
	copies   *copies
	probes   []probe
	faults   []fault
	serves   []*process
	loadDone chan error
}

// newScenario connects to natsURL (where serves already run), registers and
// confirms users, starts watching outcomes and starts the load (with
// deletes only when there are at least 100 users).
func newScenario(t *testing.T, natsURL string, users int, serves ...*process) *scenario {
	t.Helper()
	s := &scenario{t: t, natsURL: natsURL, js: connect(t, natsURL), serves: serves}
	s.sender = newSender(t, s.js)
	s.copies = watchCopies(t, s.js.Conn())
	s.outcomes = startMonitor(t, outcomesStored(s.js))
	s.probes = []probe{{"outcomes", s.outcomes, func() uint64 { return uint64(s.setup + int(s.sent.Load())) }}}
	pop := newPopulation(t.Name(), users)
	register, confirm := pop.setup()
	for _, batch := range [][]events.Command{register, confirm} {
		s.publish(batch)
		waitAllOutcomes(t, s.js, len(s.ids))
	}
	s.setup = len(s.ids)
	s.startLoad(pop.load(commands, users >= 100))
	return s
}

// publish sends cmds unpaced (setup) and records their ids.
func (s *scenario) publish(cmds []events.Command) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.sender.sendAll(ctx, cmds); err != nil {
		s.t.Fatal(err)
	}
	for _, c := range cmds {
		s.ids = append(s.ids, c.Meta().CommandID)
	}
}

// startLoad publishes cmds at the steady rate in the background.
func (s *scenario) startLoad(cmds []events.Command) {
	for _, c := range cmds {
		s.ids = append(s.ids, c.Meta().CommandID)
	}
	s.loadDone = make(chan error, 1)
	go func() {
		// Bounded: a publish retried for longer than this means the
		// service did not recover.
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		s.loadDone <- s.sender.paced(ctx, cmds, rate, &s.sent)
	}()
}

// at blocks until a fraction of the load has been acknowledged.
func (s *scenario) at(fraction float64) {
	s.t.Helper()
	want := int64(fraction * commands)
	deadline := time.Now().Add(2 * time.Minute)
	for s.sent.Load() < want {
		if time.Now().After(deadline) {
			s.t.Fatalf("the load stalled at %d of %d commands", s.sent.Load(), commands)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// inject runs a fault, then after down its repair (nil: none), and
// records both moments.
func (s *scenario) inject(name string, do func(), down time.Duration, repair func()) {
	s.t.Helper()
	f := fault{name: name, injected: time.Now()}
	do()
	f.repaired = f.injected
	if repair != nil {
		time.Sleep(down)
		f.repaired = time.Now()
		repair()
	}
	for _, p := range s.probes {
		f.backlog = append(f.backlog, p.target())
	}
	s.t.Logf("fault %q injected", name)
	s.faults = append(s.faults, f)
}

// finish waits for the load and every outcome, then proves exactly-once,
// runs `userlife verify` and checks the revocation view, and logs the figures.
func (s *scenario) finish() figures {
	t := s.t
	t.Helper()
	if err := <-s.loadDone; err != nil {
		t.Fatalf("load: %v", err)
	}
	waitAllOutcomes(t, s.js, len(s.ids))
	waitQueueDrained(t, s.js)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l := readLedger(ctx, t, s.js)
	f := prove(t, l, s.ids, s.sender.retries.Load())
	if f.lost > 0 {
		s.explainLost(ctx, l)
	}
	runVerify(t, s.js, s.natsURL, s.pgURL, l.lastEventSq)
	checkRevocations(t, s.js, l)
	for _, p := range s.probes {
		p.m.close()
	}
	report(t, f, s.faults, s.probes...)
	diff, repeated := s.copies.differing()
	t.Logf("copies: %d commands seen answered more than once, %d of them differently", repeated, len(diff))
	for i, d := range diff {
		if i == 10 {
			break
		}
		t.Logf("answered differently: %s", d)
	}
	for _, p := range s.serves {
		p.checkNoRace(t)
	}
	if t.Failed() {
		for _, p := range s.serves {
			t.Logf("%s output:\n%s", p.name, p.report())
		}
	}
	return f
}

// explainLost logs, for commands without an outcome in the ledger, what
// the results stream answers about them now: the stream's state, a second
// full reading, and a lookup of each one's subject.
func (s *scenario) explainLost(ctx context.Context, l ledger) {
	t := s.t
	t.Helper()
	st, err := s.js.Stream(ctx, natsadapter.ResultsStream)
	if err != nil {
		t.Logf("results stream: %v", err)
		return
	}
	if info, err := st.Info(ctx); err == nil {
		t.Logf("results stream now: %+v; cluster %+v", info.State, info.Cluster)
	}
	again := readLedger(ctx, t, s.js)
	var lost, foundAgain int
	shown := 0
	for _, id := range s.ids {
		if _, ok := l.outcomes[id]; ok {
			continue
		}
		lost++
		if _, ok := again.outcomes[id]; ok {
			foundAgain++
		}
		if shown == 10 {
			continue
		}
		shown++
		m, err := st.GetLastMsgForSubject(ctx, events.ResultSubject(id))
		if err != nil {
			t.Logf("lost %s: last message for its subject: %v", id, err)
			continue
		}
		t.Logf("lost %s: the stream has it at seq %d: %s", id, m.Sequence, m.Data)
	}
	t.Logf("%d commands had no outcome in the ledger; reading the stream again found %d of them (%d outcomes in all)", lost, foundAgain, len(again.outcomes))
}
