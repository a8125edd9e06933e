package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	natsadapter "github.com/userlife/userlife/adapters/nats"
)

// deployCreds runs the documented generator (go run ./deploy/gencreds)
// once per test binary and exports the server's half (the hashes and the
// gateway's public nkey) to the environment, where deploy/nats-server.conf
// reads them. It returns the directory with the roles' files.
var deployCreds = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "userlife-creds")
	if err != nil {
		return "", err
	}
	credsDir = dir
	// Cost 4 (the lowest bcrypt allows) keeps each connect cheap in tests.
	out, err := exec.Command("go", "run", "../../deploy/gencreds", "-out", dir, "-cost", "4").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go run ./deploy/gencreds: %v\n%s", err, out)
	}
	env, err := readEnvFile(filepath.Join(dir, "server.env"))
	if err != nil {
		return "", err
	}
	for k, v := range env {
		if err := os.Setenv(k, v); err != nil {
			return "", err
		}
	}
	return dir, nil
})

// credsDir is deployCreds's directory once made; TestMain removes it.
var credsDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if credsDir != "" {
		_ = os.RemoveAll(credsDir)
	}
	os.Exit(code)
}

// readEnvFile reads KEY=value lines, the value optionally in single quotes.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		env[k] = strings.Trim(v, "'")
	}
	return env, sc.Err()
}

// securedNATS is a real nats-server (the module's code, in process) run
// with deploy/nats-server.conf on a free port.
type securedNATS struct {
	URL      string
	credsDir string
	tlsCA    string // CA file when the server speaks TLS
	log      *violationLog
}

// violationLog keeps the server's permission-violation lines.
type violationLog struct {
	mu    sync.Mutex
	lines []string
}

func (v *violationLog) Noticef(string, ...any) {}
func (v *violationLog) Warnf(string, ...any)   {}
func (v *violationLog) Fatalf(string, ...any)  {}
func (v *violationLog) Debugf(string, ...any)  {}
func (v *violationLog) Tracef(string, ...any)  {}
func (v *violationLog) Errorf(f string, a ...any) {
	line := fmt.Sprintf(f, a...)
	if strings.Contains(line, "Violation") {
		v.mu.Lock()
		v.lines = append(v.lines, line)
		v.mu.Unlock()
	}
}

// of returns the violations of connections authenticated as who (e.g.
// "user:service").
func (v *violationLog) of(who string) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for _, l := range v.lines {
		if strings.Contains(l, who) {
			out = append(out, l)
		}
	}
	return out
}

// startSecuredNATS starts the server; tlsCfg, when not nil, makes it
// require TLS, and caFile is then what clients verify it with.
func startSecuredNATS(t *testing.T, tlsCfg *tls.Config, caFile string) *securedNATS {
	t.Helper()
	dir, err := deployCreds()
	if err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile("../../deploy/nats-server.conf")
	if err != nil {
		t.Fatalf("load deploy/nats-server.conf: %v", err)
	}
	opts.Host, opts.Port = "127.0.0.1", server.RANDOM_PORT
	opts.StoreDir = t.TempDir()
	opts.NoSigs = true
	if tlsCfg != nil {
		opts.TLSConfig, opts.TLS, opts.TLSTimeout = tlsCfg, true, 5
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	log := &violationLog{}
	ns.SetLoggerV2(log, false, false, false)
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats-server with deploy/nats-server.conf did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return &securedNATS{URL: ns.ClientURL(), credsDir: dir, tlsCA: caFile, log: log}
}

// auth is role's credentials as written by deploy/gencreds.
func (s *securedNATS) auth(t *testing.T, role string) natsadapter.ClientAuth {
	t.Helper()
	env, err := readEnvFile(filepath.Join(s.credsDir, role+".env"))
	if err != nil {
		t.Fatal(err)
	}
	return natsadapter.ClientAuth{
		User: env["USERLIFE_NATS_USER"], Password: env["USERLIFE_NATS_PASSWORD"],
		NkeySeedFile: env["USERLIFE_NATS_NKEY"], InboxPrefix: env["USERLIFE_NATS_INBOX_PREFIX"],
		TLSCA: s.tlsCA,
	}
}

// args are the command-line flags that connect as role.
func (s *securedNATS) args(t *testing.T, role string) []string {
	t.Helper()
	a := s.auth(t, role)
	args := []string{"--nats", s.URL, "--nats-inbox-prefix", a.InboxPrefix}
	if a.User != "" {
		args = append(args, "--nats-user", a.User, "--nats-password", a.Password)
	}
	if a.NkeySeedFile != "" {
		args = append(args, "--nats-nkey", a.NkeySeedFile)
	}
	if a.TLSCA != "" {
		args = append(args, "--nats-tls-ca", a.TLSCA)
	}
	return args
}

// connect opens a connection as role; its asynchronous errors (the
// server's permission violations) arrive on the returned channel.
func (s *securedNATS) connect(t *testing.T, role string) (*nats.Conn, <-chan error) {
	t.Helper()
	opts, err := s.auth(t, role).Options()
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 64)
	opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errs <- err:
		default:
		}
	}))
	nc, err := natsadapter.Connect(s.URL, "test-"+role, nil, opts...)
	if err != nil {
		t.Fatalf("connect as %s: %v", role, err)
	}
	t.Cleanup(nc.Close)
	return nc, errs
}
