package faults

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// process is a child process the test starts, kills and restarts with the
// same arguments. Its stderr and stdout are kept (the last 256 KB) for the
// failure message; a data race report is remembered whatever its size.
type process struct {
	name  string
	bin   string
	args  []string
	ready string // a line that says the process is up

	mu   sync.Mutex
	logs []byte
	// notable keeps every line that is not at debug level, whatever the
	// size of logs.
	notable []byte
	raced   bool
	// handled counts "command handled" lines (serve at debug level).
	handled int
	cmd     *exec.Cmd
	exited  chan struct{}
}

const keepLogs = 256 << 10

// startProcess runs bin and waits (up to two minutes) for a line containing
// ready. The process is killed when the test ends.
func startProcess(t *testing.T, name, bin, ready string, args ...string) *process {
	t.Helper()
	p := &process{name: name, bin: bin, args: args, ready: ready}
	t.Cleanup(func() { p.kill() })
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *process) start() error {
	cmd := exec.Command(p.bin, p.args...)
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		w.Close()
		r.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	w.Close()
	ready := make(chan struct{})
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	go func() {
		once := sync.Once{}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs = append(p.logs, line...)
			p.logs = append(p.logs, '\n')
			if len(p.logs) > 2*keepLogs {
				p.logs = append([]byte(nil), p.logs[len(p.logs)-keepLogs:]...)
			}
			if !strings.Contains(line, "level=DEBUG") {
				p.notable = append(p.notable, line...)
				p.notable = append(p.notable, '\n')
			}
			if strings.Contains(line, "WARNING: DATA RACE") {
				p.raced = true
			}
			if strings.Contains(line, "command handled") {
				p.handled++
			}
			p.mu.Unlock()
			if strings.Contains(line, p.ready) {
				once.Do(func() { close(ready) })
			}
		}
		r.Close()
	}()
	go func() { _ = cmd.Wait(); close(exited) }()
	select {
	case <-ready:
		return nil
	case <-exited:
		return fmt.Errorf("%s exited before it was ready:\n%s", p.name, p.output())
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("%s not ready after two minutes:\n%s", p.name, p.output())
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// restart starts the process again with the same arguments.
func (p *process) restart(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	p.logs = append(p.logs, "---- restarted ----\n"...)
	p.mu.Unlock()
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.logs)
}

// report is the process's lines above debug level, then the last 32 KB of
// everything.
func (p *process) report() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	tail := p.logs[max(0, len(p.logs)-32<<10):]
	return "lines above debug level:\n" + string(p.notable) + "\nlast lines:\n" + string(tail)
}

func (p *process) commandsHandled() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.handled
}

// checkNoRace fails the test if the (race-built) process reported a data race.
func (p *process) checkNoRace(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	raced := p.raced
	p.mu.Unlock()
	if raced {
		t.Errorf("%s reported a data race:\n%s", p.name, p.output())
	}
}

// freePort returns a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startNATS runs a standalone nats-server with JetStream on a free port and
// a store directory of its own.
func startNATS(t *testing.T) (*process, string) {
	t.Helper()
	port := freePort(t)
	_, natsBin := binaries(t)
	p := startProcess(t, "nats-server", natsBin, "Server is ready",
		"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", t.TempDir(), "-n", "faults")
	return p, fmt.Sprintf("nats://127.0.0.1:%d", port)
}

// startCluster runs three nats-server processes routed into one JetStream
// cluster and returns them and the client URL list.
func startCluster(t *testing.T) ([]*process, string) {
	t.Helper()
	var ports, routes []int
	for range 3 {
		ports = append(ports, freePort(t))
		routes = append(routes, freePort(t))
	}
	var routeURLs, clientURLs []string
	for i := range 3 {
		routeURLs = append(routeURLs, fmt.Sprintf("nats://127.0.0.1:%d", routes[i]))
		clientURLs = append(clientURLs, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	_, natsBin := binaries(t)
	nodes := make([]*process, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		// Started at once: a node waits for its peers to elect a
		// meta leader, so one at a time would only be slower.
		args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(ports[i]), "-js", "-sd", t.TempDir(),
			"-n", fmt.Sprintf("n%d", i+1), "--cluster_name", "faults",
			"--cluster", routeURLs[i], "--routes", strings.Join(routeURLs, ",")}
		nodes[i] = &process{name: fmt.Sprintf("nats-server n%d", i+1), bin: natsBin, args: args, ready: "Server is ready"}
		t.Cleanup(func() { nodes[i].kill() })
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = nodes[i].start() }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	urls := strings.Join(clientURLs, ",")
	waitJetStream(t, urls)
	return nodes, urls
}

// waitJetStream waits (up to a minute) until the cluster has elected a
// JetStream meta leader and answers account info.
func waitJetStream(t *testing.T, urls string) {
	t.Helper()
	js := connect(t, urls)
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster's JetStream is not ready after a minute: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startServe runs `userlife serve` against an external NATS server with
// a short ack wait, so that commands held by a killed process come back
// quickly. The HTTP listener is off: several serves run at once.
func startServe(t *testing.T, natsURL string, extra ...string) *process {
	t.Helper()
	args := append([]string{"--log-level", "debug", "serve", "--http=", "--ack-wait", "3s", "--nats", natsURL}, extra...)
	userlifeBin, _ := binaries(t)
	return startProcess(t, "serve", userlifeBin, "userlife serving on", args...)
}
