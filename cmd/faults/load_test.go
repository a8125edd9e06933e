package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
)

// connect opens a client connection that reconnects forever, closed when
// the test ends.
func connect(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond),
		nats.SyncQueueLen(natsadapter.SyncQueueLen))
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// sender publishes commands through a natsadapter.Client. A publish that
// fails (no ack: the server is down, a stream has no leader, the
// connection is reconnecting) is retried with the same command id until
// it is acknowledged, so no command is lost; a copy that did reach the
// queue is dropped there by its Nats-Msg-Id.
type sender struct {
	client  *natsadapter.Client
	retries atomic.Int64
}

func newSender(t *testing.T, js jetstream.JetStream) *sender {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := natsadapter.NewClient(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	return &sender{client: c}
}

// send publishes cmd until the queue acknowledges it or ctx ends.
func (s *sender) send(ctx context.Context, cmd events.Command) error {
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := s.client.Send(pctx, cmd)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("command %s never acknowledged: %w", cmd.Meta().CommandID, err)
		}
		s.retries.Add(1)
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// sendAll publishes cmds from 16 goroutines as fast as they are
// acknowledged (the setup phase).
func (s *sender) sendAll(ctx context.Context, cmds []events.Command) error {
	return s.paced(ctx, cmds, 0, nil)
}

// paced publishes cmds at rate per second (0: unpaced) from 16 goroutines,
// so a publish stuck in a fault does not stall the others; sent counts
// the acknowledged ones.
func (s *sender) paced(ctx context.Context, cmds []events.Command, rate int, sent *atomic.Int64) error {
	queue := make(chan events.Command, len(cmds))
	go func() {
		defer close(queue)
		var tick *time.Ticker
		if rate > 0 {
			tick = time.NewTicker(time.Second / time.Duration(rate))
			defer tick.Stop()
		}
		for _, c := range cmds {
			if tick != nil {
				select {
				case <-tick.C:
				case <-ctx.Done():
					return
				}
			}
			queue <- c
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range queue {
				if err := s.send(ctx, c); err != nil {
					errs <- err
					return
				}
				if sent != nil {
					sent.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// population is the users the load works on.
type population struct {
	users []string
	rng   *rand.Rand
}

func newPopulation(prefix string, n int) *population {
	p := &population{rng: rand.New(rand.NewPCG(uint64(n), 7))}
	for i := range n {
		p.users = append(p.users, fmt.Sprintf("%s-%d", prefix, i))
	}
	return p
}

func meta(user string) events.CommandMeta {
	return events.CommandMeta{CommandID: newID(), UserID: user, Actor: "faults", Reason: "fault suite load"}
}

var idSeq atomic.Int64

// newID is a command id unique within the test binary's run.
func newID() string {
	return fmt.Sprintf("f-%d-%d", time.Now().UnixNano(), idSeq.Add(1))
}

// setup registers and confirms every user.
func (p *population) setup() (register, confirm []events.Command) {
	for _, u := range p.users {
		register = append(register, &events.RegisterUser{CommandMeta: meta(u), Email: u + "@faults.example"})
		confirm = append(confirm, &events.ConfirmUser{CommandMeta: meta(u)})
	}
	return register, confirm
}

// load makes n commands on random users: disable, enable and revoke
// sessions in equal parts, and deletes one in a hundred when withDeletes
// (a few hundred users last the whole load).
func (p *population) load(n int, withDeletes bool) []events.Command {
	cmds := make([]events.Command, 0, n)
	for range n {
		m := meta(p.users[p.rng.IntN(len(p.users))])
		r := p.rng.IntN(100)
		if !withDeletes {
			r %= 99
		}
		switch {
		case r < 33:
			cmds = append(cmds, &events.DisableUser{CommandMeta: m})
		case r < 66:
			cmds = append(cmds, &events.EnableUser{CommandMeta: m})
		case r < 99:
			cmds = append(cmds, &events.RevokeSessions{CommandMeta: m})
		default:
			cmds = append(cmds, &events.DeleteUser{CommandMeta: m})
		}
	}
	return cmds
}

// monitor polls a counter (outcomes stored, a projection's position) every
// 20 ms and keeps the samples, so the time from a fault to the first
// progress after it, and to a level reached after it, can be read
// afterwards. Its resolution is the polling interval.
type monitor struct {
	mu      sync.Mutex
	samples []sample
	stop    chan struct{}
	done    chan struct{}
}

type sample struct {
	at time.Time
	v  uint64
}

func startMonitor(t *testing.T, probe func(context.Context) (uint64, error)) *monitor {
	t.Helper()
	m := &monitor{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-tick.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			v, err := probe(ctx)
			cancel()
			if err != nil {
				continue
			}
			m.mu.Lock()
			m.samples = append(m.samples, sample{time.Now(), v})
			m.mu.Unlock()
		}
	}()
	t.Cleanup(m.close)
	return m
}

func (m *monitor) close() {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
}

// firstMoveAfter is the time from at to the first sample higher than the
// last one taken before at, or -1 if there was none.
func (m *monitor) firstMoveAfter(at time.Time) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	var before uint64
	for _, s := range m.samples {
		if !s.at.After(at) {
			before = s.v
			continue
		}
		if s.v > before {
			return s.at.Sub(at)
		}
	}
	return -1
}

// valueAt is the last sample taken at or before at.
func (m *monitor) valueAt(at time.Time) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var v uint64
	for _, s := range m.samples {
		if s.at.After(at) {
			break
		}
		v = s.v
	}
	return v
}

// reachedAfter is the time from at to the first sample at or above v, or
// -1 if it was never reached.
func (m *monitor) reachedAfter(at time.Time, v uint64) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.samples {
		if s.at.After(at) && s.v >= v {
			return s.at.Sub(at)
		}
	}
	return -1
}

// outcomesStored counts the commands that have an outcome (the results
// stream keeps the last outcome of each command).
func outcomesStored(js jetstream.JetStream) func(context.Context) (uint64, error) {
	return func(ctx context.Context) (uint64, error) {
		s, err := js.Stream(ctx, natsadapter.ResultsStream)
		if err != nil {
			return 0, err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return 0, err
		}
		return info.State.Msgs, nil
	}
}
