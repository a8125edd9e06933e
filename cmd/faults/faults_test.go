package faults

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/projections"
)

// TestFaultServeKill: serve is SIGKILLed under load and restarted two
// seconds later; the commands it held come back after the ack wait and
// those it had appended are recognised by their command id.
func TestFaultServeKill(t *testing.T) {
	t.Parallel()
	_, url := startNATS(t)
	serve := startServe(t, url)
	s := newScenario(t, url, 300, serve)
	s.at(1.0 / 3)
	s.inject("SIGKILL serve", serve.kill, 2*time.Second, func() { serve.restart(t) })
	s.finish()
}

// TestFaultNATSKill: the nats-server process is SIGKILLed under load and
// restarted on the same ports and store two seconds later; serve and the
// load client reconnect, and the client re-publishes what was not
// acknowledged with the same command id.
func TestFaultNATSKill(t *testing.T) {
	t.Parallel()
	ns, url := startNATS(t)
	serve := startServe(t, url)
	s := newScenario(t, url, 300, serve)
	s.at(1.0 / 3)
	s.inject("SIGKILL nats-server", ns.kill, 2*time.Second, func() { ns.restart(t) })
	s.finish()
}

// TestFaultPostgres: with the projections in a private PostgreSQL, serve's
// connections are terminated under load, then PostgreSQL is stopped in
// immediate mode (as in a crash) and started again.
func TestFaultPostgres(t *testing.T) {
	t.Parallel()
	pg, pgURL := startPostgres(t)
	_, url := startNATS(t)
	serve := startServe(t, url, "--postgres", pgURL)
	s := newScenario(t, url, 300, serve)
	s.pgURL = pgURL
	q := natsadapter.NewQueryClient(s.js.Conn())
	users := startMonitor(t, func(ctx context.Context) (uint64, error) {
		pos, err := q.Positions(ctx)
		return pos[projections.Users], err
	})
	s.probes = append(s.probes, probe{"users projection", users, func() uint64 { return lastEvent(t, s.js) }})

	s.at(1.0 / 4)
	s.inject("pg_terminate_backend of serve's connections (3 times, 200 ms apart)", func() {
		for i := range 3 {
			if i > 0 {
				time.Sleep(200 * time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			n, err := pg.terminateBackends(ctx)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("terminated %d connections", n)
		}
	}, 0, nil)
	s.at(1.0 / 2)
	s.inject("PostgreSQL stopped (immediate) and restarted", func() { pg.crash(t) }, 2*time.Second, func() { pg.start(t) })
	s.finish()
}

// TestFaultCluster: a 3-node JetStream cluster with R3 streams; a follower
// of USERLIFE_EVENTS is killed under load and brought back five seconds
// later, then the stream's leader is killed and brought back eight seconds
// later (long enough for the two others to elect a new leader and go on
// without it).
func TestFaultCluster(t *testing.T) {
	t.Parallel()
	nodes, urls := startCluster(t)
	serve := startServe(t, urls, "--replicas", "3")
	s := newScenario(t, urls, 300, serve)

	node := func(name string) *process {
		for i, n := range nodes {
			if name == "n"+string(rune('1'+i)) {
				return n
			}
		}
		t.Fatalf("no node named %q", name)
		return nil
	}
	s.at(1.0 / 4)
	info := eventsCluster(t, s.js)
	follower := info.Replicas[0].Name
	t.Logf("USERLIFE_EVENTS: leader %s, killing follower %s, which leads %v", info.Leader, follower, ledBy(t, s.js, follower))
	s.inject("SIGKILL a follower node ("+follower+")", node(follower).kill, 5*time.Second, func() { node(follower).restart(t) })
	waitReplicasCurrent(t, s.js)

	s.at(2.0 / 3)
	leader := eventsCluster(t, s.js).Leader
	t.Logf("killing the leader of USERLIFE_EVENTS, %s, which leads %v", leader, ledBy(t, s.js, leader))
	s.inject("SIGKILL the USERLIFE_EVENTS leader ("+leader+")", node(leader).kill, 8*time.Second, func() { node(leader).restart(t) })
	s.finish()
	after := eventsCluster(t, s.js)
	var replicas []string
	for _, r := range after.Replicas {
		replicas = append(replicas, fmt.Sprintf("%s current=%v", r.Name, r.Current))
	}
	t.Logf("USERLIFE_EVENTS after the faults: leader %s, replicas %v", after.Leader, replicas)
}

// TestFaultTwoServes: two serve processes (race detector on) share the
// queue and race on the same 30 users (no deletes, so every command
// touches a live user), so their appends conflict and are decided again.
func TestFaultTwoServes(t *testing.T) {
	t.Parallel()
	_, url := startNATS(t)
	a := startServe(t, url)
	b := startServe(t, url)
	s := newScenario(t, url, 30, a, b)
	s.finish()
	t.Logf("serve A handled %d commands, serve B %d", a.commandsHandled(), b.commandsHandled())
	if a.commandsHandled() == 0 || b.commandsHandled() == 0 {
		t.Errorf("the two serves did not share the queue: A handled %d, B %d", a.commandsHandled(), b.commandsHandled())
	}
}

// ledBy lists the streams and consumers (each a Raft group) whose leader is
// node: killing the node stalls them until the others elect a new leader.
// It is for the log only: what cannot be listed within ten seconds (a
// group without a leader does not answer) is reported as such.
func ledBy(t *testing.T, js jetstream.JetStream, node string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var led []string
	streams := js.ListStreams(ctx)
	for info := range streams.Info() {
		if info.Cluster != nil && info.Cluster.Leader == node {
			led = append(led, info.Config.Name)
		}
		s, err := js.Stream(ctx, info.Config.Name)
		if err != nil {
			led = append(led, fmt.Sprintf("(%s: %v)", info.Config.Name, err))
			continue
		}
		consumers := s.ListConsumers(ctx)
		for ci := range consumers.Info() {
			if ci.Cluster != nil && ci.Cluster.Leader == node {
				led = append(led, info.Config.Name+"/"+ci.Name)
			}
		}
		if err := consumers.Err(); err != nil {
			led = append(led, fmt.Sprintf("(consumers of %s: %v)", info.Config.Name, err))
		}
	}
	if err := streams.Err(); err != nil {
		led = append(led, fmt.Sprintf("(streams: %v)", err))
	}
	return led
}

// lastEvent is the sequence of the last event in USERLIFE_EVENTS.
func lastEvent(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, natsadapter.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

// eventsCluster returns the cluster info of USERLIFE_EVENTS once it has a
// leader.
func eventsCluster(t *testing.T, js jetstream.JetStream) *jetstream.ClusterInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		s, err := js.Stream(ctx, natsadapter.EventsStream)
		if err == nil {
			info, err := s.Info(ctx)
			if err == nil && info.Cluster != nil && info.Cluster.Leader != "" && len(info.Cluster.Replicas) > 0 {
				return info.Cluster
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("USERLIFE_EVENTS has no leader: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitReplicasCurrent waits until every replica of USERLIFE_EVENTS is
// current again (the restarted node has caught up).
func waitReplicasCurrent(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		c := eventsCluster(t, js)
		current := len(c.Replicas) == 2
		for _, r := range c.Replicas {
			current = current && r.Current && !r.Offline
		}
		if current {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("USERLIFE_EVENTS replicas not current after a minute: %+v", c.Replicas)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
