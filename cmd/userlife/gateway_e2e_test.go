package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	httpadapter "github.com/userlife/userlife/adapters/http"
)

// The tests in this file run the real binary twice over: `userlife serve`
// (with its embedded NATS server on a free port) and `userlife gateway`, as
// processes, in front of a small upstream in the test process. Tokens are
// minted and commands sent with the binary too (runCLI). Every wait is a
// poll with a deadline.

// gwE2EDeadline bounds every poll: generous, so the tests hold under load.
const gwE2EDeadline = 20 * time.Second

// gwE2E is one service, its secret and an upstream for gateways to proxy
// to.
type gwE2E struct {
	data, natsAddr, natsURL string
	secretFile              string
	upstream                string
	serve                   *proc
}

// newGatewayE2E starts `userlife serve` on its own data directory and NATS
// port, writes an HS256 secret and starts an upstream that echoes the
// identity headers the gateway set.
func newGatewayE2E(t *testing.T) *gwE2E {
	t.Helper()
	e := &gwE2E{data: t.TempDir(), natsAddr: freeAddr(t)}
	e.natsURL = "nats://" + e.natsAddr
	e.secretFile = filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(e.secretFile, []byte("gateway-e2e-secret-0123456789abcdefghij\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "upstream subject=%s session=%s", r.Header.Get(httpadapter.SubjectHeader), r.Header.Get("X-Userlife-Session"))
	}))
	t.Cleanup(up.Close)
	e.upstream = up.URL
	e.serve = e.startServe(t)
	return e
}

func (e *gwE2E) startServe(t *testing.T) *proc {
	t.Helper()
	return startServe(t, "--data", e.data, "--nats-listen", e.natsAddr)
}

// cli runs the binary against this service and fails on any exit but 0.
func (e *gwE2E) cli(t *testing.T, args ...string) string {
	t.Helper()
	out, code := runCLI(t, e.natsURL, args...)
	if code != 0 {
		t.Fatalf("userlife %v: exit %d\n%s", args, code, out)
	}
	return out
}

// confirmedUser registers and confirms id.
func (e *gwE2E) confirmedUser(t *testing.T, id string) {
	t.Helper()
	e.cli(t, "user", "register", "--email", id+"@example.com", "--id", id)
	e.cli(t, "user", "confirm", id)
}

// mint prints a token with `userlife token mint`; a zero iat means now.
func (e *gwE2E) mint(t *testing.T, user, sid string, iat time.Time) string {
	t.Helper()
	args := []string{"token", "mint", "--user", user, "--hs256-secret-file", e.secretFile}
	if sid != "" {
		args = append(args, "--sid", sid)
	}
	if !iat.IsZero() {
		args = append(args, "--iat", iat.UTC().Format(time.RFC3339))
	}
	return strings.TrimSpace(e.cli(t, args...))
}

// revokedBefore reads the user's revoked_before with `user show --json`
// and returns it rounded up to the next whole second: the first iat the
// gateway lets through again.
func (e *gwE2E) revokedBefore(t *testing.T, user string) (time.Time, time.Time) {
	t.Helper()
	out := e.cli(t, "user", "show", user, "--json")
	var shown struct {
		User struct {
			RevokedBefore time.Time `json:"revoked_before"`
		} `json:"user"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatalf("user show --json: %v\n%s", err, out)
	}
	rb := shown.User.RevokedBefore
	if rb.IsZero() || time.Since(rb) > time.Minute || time.Until(rb) > 5*time.Second {
		t.Fatalf("revoked_before %v, want about now", rb)
	}
	first := rb.Truncate(time.Second)
	if !first.Equal(rb) {
		first = first.Add(time.Second)
	}
	return rb, first
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// gwProc is a running `userlife gateway`.
type gwProc struct {
	id   string
	url  string // http://listen
	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done
}

// spawnGateway starts `userlife gateway` on listen (a free address when
// empty) without waiting for it.
func (e *gwE2E) spawnGateway(t *testing.T, id, listen string, maxStaleness time.Duration) *gwProc {
	t.Helper()
	if listen == "" {
		listen = freeAddr(t)
	}
	g := &gwProc{id: id, url: "http://" + listen, logs: &lockedBuffer{}, done: make(chan struct{})}
	g.cmd = exec.Command(binary(t), "gateway", "--listen", listen, "--upstream", e.upstream, "--nats", e.natsURL,
		"--hs256-secret-file", e.secretFile, "--id", id, "--max-staleness", maxStaleness.String())
	g.cmd.Stdout, g.cmd.Stderr = g.logs, g.logs
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { g.err = g.cmd.Wait(); close(g.done) }()
	t.Cleanup(func() {
		_ = g.cmd.Process.Kill()
		<-g.done
		if t.Failed() {
			t.Logf("gateway %s output:\n%s", g.id, g.logs.String())
		}
	})
	return g
}

// startGateway starts a gateway and waits until it is ready.
func (e *gwE2E) startGateway(t *testing.T, id string, maxStaleness time.Duration) *gwProc {
	t.Helper()
	g := e.spawnGateway(t, id, "", maxStaleness)
	g.waitHealthy(t)
	return g
}

// exited fails the test if the gateway has exited.
func (g *gwProc) exited(t *testing.T) {
	t.Helper()
	select {
	case <-g.done:
		t.Fatalf("gateway %s exited: %v\n%s", g.id, g.err, g.logs.String())
	default:
	}
}

// healthz is the status of GET /_userlife/healthz (0 when unreachable).
func (g *gwProc) healthz() (int, string) {
	res, err := gwE2EClient.Get(g.url + "/_userlife/healthz")
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// waitHealthy polls healthz until 200: the snapshot is loaded and fresh.
func (g *gwProc) waitHealthy(t *testing.T) {
	t.Helper()
	poll(t, "gateway "+g.id+" healthz 200", func() (bool, string) {
		g.exited(t)
		code, body := g.healthz()
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	})
}

// stop sends SIGTERM and waits for a clean exit.
func (g *gwProc) stop(t *testing.T) {
	t.Helper()
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.done:
		if g.err != nil {
			t.Fatalf("gateway %s exited with %v after SIGTERM:\n%s", g.id, g.err, g.logs.String())
		}
	case <-time.After(gwE2EDeadline):
		t.Fatalf("gateway %s did not stop after SIGTERM:\n%s", g.id, g.logs.String())
	}
}

// gwE2EClient opens a connection per request, so a request after a
// restart never rides a connection to the previous process.
var gwE2EClient = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// gwAnswer is what the gateway answered to a request.
type gwAnswer struct {
	code int
	text string // the upstream's body for a 200, the error_description otherwise
	hdr  http.Header
}

func (a gwAnswer) String() string { return fmt.Sprintf("%d %q", a.code, a.text) }

var wwwAuthDescription = regexp.MustCompile(`error_description="([^"]*)"`)

// get sends GET / with the bearer token. A 401 must carry error
// invalid_token and the same description in WWW-Authenticate and in the
// body.
func (g *gwProc) get(t *testing.T, token string) (gwAnswer, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", g.url+"/", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := gwE2EClient.Do(req)
	if err != nil {
		return gwAnswer{}, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := gwAnswer{code: res.StatusCode, hdr: res.Header, text: string(b)}
	if res.StatusCode == http.StatusOK {
		return a, nil
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		t.Errorf("gateway %s answered %d with a body that is not JSON: %q", g.id, res.StatusCode, b)
	}
	a.text = body.Description
	if res.StatusCode == http.StatusUnauthorized {
		wa := res.Header.Get("WWW-Authenticate")
		m := wwwAuthDescription.FindStringSubmatch(wa)
		if body.Error != "invalid_token" || !strings.Contains(wa, `error="invalid_token"`) || m == nil || m[1] != body.Description {
			t.Errorf("401 with WWW-Authenticate %q and body %s: want error=\"invalid_token\" and the body's description in both", wa, b)
		}
	}
	return a, nil
}

// mustGet is get for a gateway known to be up.
func (g *gwProc) mustGet(t *testing.T, token string) gwAnswer {
	t.Helper()
	a, err := g.get(t, token)
	if err != nil {
		t.Fatalf("gateway %s: %v", g.id, err)
	}
	return a
}

// expect asserts one answer, for when the view is known to be settled.
func (g *gwProc) expect(t *testing.T, token string, code int, text string) {
	t.Helper()
	if a := g.mustGet(t, token); a.code != code || a.text != text {
		t.Fatalf("gateway %s: got %v, want %d %q", g.id, a, code, text)
	}
}

// eventually polls until the token gets code and text.
func (g *gwProc) eventually(t *testing.T, token string, code int, text string) gwAnswer {
	t.Helper()
	return g.eventuallyWithin(t, gwE2EDeadline, token, code, text)
}

func (g *gwProc) eventuallyWithin(t *testing.T, d time.Duration, token string, code int, text string) gwAnswer {
	t.Helper()
	var last gwAnswer
	pollWithin(t, d, fmt.Sprintf("gateway %s answering %d %q", g.id, code, text), func() (bool, string) {
		g.exited(t)
		a, err := g.get(t, token)
		if err != nil {
			return false, err.Error()
		}
		last = a
		return a.code == code && a.text == text, a.String()
	})
	return last
}

// poll calls f until it reports true, failing after gwE2EDeadline with
// what f last said.
func poll(t *testing.T, what string, f func() (bool, string)) {
	t.Helper()
	pollWithin(t, gwE2EDeadline, what, f)
}

func pollWithin(t *testing.T, d time.Duration, what string, f func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, state := f()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s; last: %s", d, what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func upstreamSaw(user, sid string) string {
	return fmt.Sprintf("upstream subject=%s session=%s", user, sid)
}

// TestGatewayE2ELifecycle: a token passes; disable refuses it; enable does
// not bring it back (it was issued before the revocation) but lets a token
// issued after the revocation's second through; delete refuses that one.
func TestGatewayE2ELifecycle(t *testing.T) {
	t.Parallel()
	e := newGatewayE2E(t)
	e.confirmedUser(t, "ann")
	gw := e.startGateway(t, "gw-life", 10*time.Second)

	old := e.mint(t, "ann", "", time.Now().Add(-5*time.Second))
	gw.eventually(t, old, http.StatusOK, upstreamSaw("ann", ""))

	e.cli(t, "user", "disable", "ann", "--reason", "e2e")
	gw.eventually(t, old, http.StatusUnauthorized, "user disabled")

	e.cli(t, "user", "enable", "ann")
	gw.eventually(t, old, http.StatusUnauthorized, "token revoked")
	_, first := e.revokedBefore(t, "ann")
	// The view has applied the enable: a token of the revocation's second
	// is refused, one of the next second passes.
	gw.expect(t, e.mint(t, "ann", "", first.Add(-time.Second)), http.StatusUnauthorized, "token revoked")
	fresh := e.mint(t, "ann", "", first)
	gw.expect(t, fresh, http.StatusOK, upstreamSaw("ann", ""))

	e.cli(t, "user", "delete", "ann")
	gw.eventually(t, fresh, http.StatusUnauthorized, "user deleted")
	gw.expect(t, old, http.StatusUnauthorized, "user deleted")
}

// TestGatewayE2ERevokeSessions: revoke-sessions refuses tokens issued
// before it, including one issued in the same second, and lets tokens of
// the next second through.
func TestGatewayE2ERevokeSessions(t *testing.T) {
	t.Parallel()
	e := newGatewayE2E(t)
	e.confirmedUser(t, "bob")
	gw := e.startGateway(t, "gw-revoke", 10*time.Second)

	old := e.mint(t, "bob", "s-1", time.Now().Add(-5*time.Second))
	gw.eventually(t, old, http.StatusOK, upstreamSaw("bob", "s-1"))

	e.cli(t, "user", "revoke-sessions", "bob")
	gw.eventually(t, old, http.StatusUnauthorized, "token revoked")
	rb, first := e.revokedBefore(t, "bob")
	sameSecond := e.mint(t, "bob", "s-2", first.Add(-time.Second))
	gw.expect(t, sameSecond, http.StatusUnauthorized, "token revoked")
	next := e.mint(t, "bob", "s-2", first)
	gw.expect(t, next, http.StatusOK, upstreamSaw("bob", "s-2"))
	t.Logf("revoked_before %s: iat %s refused, iat %s accepted", rb.Format(time.RFC3339Nano),
		first.Add(-time.Second).Format(time.RFC3339), first.Format(time.RFC3339))
}

// TestGatewayE2ERevokeSession: revoke-session refuses the tokens of that
// sid only.
func TestGatewayE2ERevokeSession(t *testing.T) {
	t.Parallel()
	e := newGatewayE2E(t)
	e.confirmedUser(t, "cid")
	gw := e.startGateway(t, "gw-session", 10*time.Second)

	s1, s2, none := e.mint(t, "cid", "s1", time.Time{}), e.mint(t, "cid", "s2", time.Time{}), e.mint(t, "cid", "", time.Time{})
	gw.eventually(t, s1, http.StatusOK, upstreamSaw("cid", "s1"))
	gw.expect(t, s2, http.StatusOK, upstreamSaw("cid", "s2"))
	gw.expect(t, none, http.StatusOK, upstreamSaw("cid", ""))

	e.cli(t, "user", "revoke-session", "cid", "--session", "s1")
	gw.eventually(t, s1, http.StatusUnauthorized, "session revoked")
	gw.expect(t, s2, http.StatusOK, upstreamSaw("cid", "s2"))
	gw.expect(t, none, http.StatusOK, upstreamSaw("cid", ""))
	// The sid stays revoked whenever its tokens were issued.
	gw.expect(t, e.mint(t, "cid", "s1", time.Now().Add(2*time.Second)), http.StatusUnauthorized, "session revoked")
}

// TestGatewayE2ERestartLoadsSnapshot: a new gateway process refuses a
// disabled user from its very first answer, whether the user was disabled
// while a gateway was watching or while none was running.
func TestGatewayE2ERestartLoadsSnapshot(t *testing.T) {
	t.Parallel()
	e := newGatewayE2E(t)
	e.confirmedUser(t, "dan")
	e.confirmedUser(t, "eve")
	listen := freeAddr(t)
	a := e.spawnGateway(t, "gw-a", listen, 10*time.Second)
	a.waitHealthy(t)
	dan, eve := e.mint(t, "dan", "", time.Time{}), e.mint(t, "eve", "", time.Time{})
	a.eventually(t, dan, http.StatusOK, upstreamSaw("dan", ""))
	a.expect(t, eve, http.StatusOK, upstreamSaw("eve", ""))

	e.cli(t, "user", "disable", "dan")
	a.eventually(t, dan, http.StatusUnauthorized, "user disabled")
	a.stop(t)
	e.cli(t, "user", "disable", "eve") // no gateway is running

	b := e.spawnGateway(t, "gw-b", listen, 10*time.Second)
	// From the first answer on, never a 200: before healthz says ready the
	// gateway may only refuse (401) or fail closed (503).
	answers := 0
	poll(t, "gateway gw-b healthz 200", func() (bool, string) {
		b.exited(t)
		for _, tok := range []string{dan, eve} {
			ans, err := b.get(t, tok)
			if err != nil {
				return false, err.Error()
			}
			answers++
			if ans.code == http.StatusOK {
				t.Fatalf("gateway gw-b let a disabled user's token through before it was ready: %v", ans)
			}
			if ans.code != http.StatusUnauthorized && ans.code != http.StatusServiceUnavailable {
				t.Fatalf("gateway gw-b answered %v before it was ready, want 401 or 503", ans)
			}
		}
		code, body := b.healthz()
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	})
	b.expect(t, dan, http.StatusUnauthorized, "user disabled")
	b.expect(t, eve, http.StatusUnauthorized, "user disabled")
	t.Logf("gw-b answered %d request(s) before healthz was 200, none a 200", answers)
}

// TestGatewayE2EStaleFailsClosed: cut off from the service past
// --max-staleness the gateway answers 503 and healthz turns 503; when the
// service is back the token passes again, and a disable is enforced.
func TestGatewayE2EStaleFailsClosed(t *testing.T) {
	t.Parallel()
	e := newGatewayE2E(t)
	e.confirmedUser(t, "fay")
	gw := e.startGateway(t, "gw-stale", 2*time.Second)
	tok := e.mint(t, "fay", "", time.Time{})
	gw.eventually(t, tok, http.StatusOK, upstreamSaw("fay", ""))

	e.serve.stop(t) // the embedded NATS server goes with it
	a := gw.eventually(t, tok, http.StatusServiceUnavailable, "revocation view stale")
	if got := a.hdr.Get("Retry-After"); got != "1" {
		t.Errorf("503 with Retry-After %q, want 1", got)
	}
	if code, body := gw.healthz(); code != http.StatusServiceUnavailable || !strings.Contains(body, `"ready":false`) {
		t.Errorf("healthz while stale: %d %s, want 503 with ready false", code, body)
	}

	e.serve = e.startServe(t)
	gw.eventually(t, tok, http.StatusOK, upstreamSaw("fay", ""))
	if code, body := gw.healthz(); code != http.StatusOK {
		t.Errorf("healthz after the service came back: %d %s, want 200", code, body)
	}
	// The watcher watches the bucket again as soon as the connection is
	// back, so a revocation right after the service returns is enforced
	// within the ordinary bound.
	disabled := time.Now()
	e.cli(t, "user", "disable", "fay")
	gw.eventually(t, tok, http.StatusUnauthorized, "user disabled")
	t.Logf("after the service came back, a disable took %s to be enforced", time.Since(disabled).Round(time.Millisecond))
}

// TestGatewayE2EWaitEnforced: `user disable --wait-enforced` returns once
// the running gateway has applied the event, and `userlife gateways` lists
// the gateway with lag 0.
func TestGatewayE2EWaitEnforced(t *testing.T) {
	t.Parallel()
	e := newGatewayE2E(t)
	e.confirmedUser(t, "gus")
	gw := e.startGateway(t, "gw-enforced", 10*time.Second)
	tok := e.mint(t, "gus", "", time.Time{})
	gw.eventually(t, tok, http.StatusOK, upstreamSaw("gus", ""))

	out := e.cli(t, "user", "disable", "gus", "--wait-enforced")
	if !strings.Contains(out, "enforced by 1 gateway(s) (gw-enforced)") {
		t.Fatalf("disable --wait-enforced printed:\n%s", out)
	}
	gw.expect(t, tok, http.StatusUnauthorized, "user disabled") // enforced means enforced

	var last string
	poll(t, "`userlife gateways` listing gw-enforced with lag 0", func() (bool, string) {
		out := e.cli(t, "gateways", "--wait", "1500ms", "--json")
		last = out
		var r gatewayReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			return false, fmt.Sprintf("%v: %s", err, out)
		}
		for _, g := range r.Gateways {
			if g.ID == "gw-enforced" && g.Lag != nil && *g.Lag == 0 && g.Ready {
				return true, ""
			}
		}
		return false, out
	})
	if !strings.Contains(last, `"service_revision"`) {
		t.Errorf("gateways --json without the service revision: %s", last)
	}
	// The table says the same.
	row := regexp.MustCompile(`(?m)^gw-enforced\s+\d+\s+0\s+true\s`)
	poll(t, "`userlife gateways` table row gw-enforced with lag 0", func() (bool, string) {
		table := e.cli(t, "gateways", "--wait", "1500ms")
		return row.MatchString(table), table
	})
}
