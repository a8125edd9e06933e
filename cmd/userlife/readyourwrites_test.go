package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/userlife/userlife/events"
)

// runCLI runs the userlife binary with args and returns its stdout; it
// fails the test on a non-zero exit unless allowFail.
func runCLI(t *testing.T, natsURL string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(cmd.Environ(), "USERLIFE_NATS="+natsURL, "USERLIFE_ACTOR=e2e")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("userlife %v: %v", args, err)
	}
	if code != 0 && code != exitRejected {
		t.Fatalf("userlife %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout.String(), stderr.String())
	}
	return stdout.String(), code
}

// TestE2EReadYourWrites: `userlife user disable X && userlife user show X`
// shows the new state every time, because the command waits for the users
// projection to apply its event.
func TestE2EReadYourWrites(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	url := "nats://" + addr
	startServe(t, "--data", t.TempDir(), "--nats-listen", addr)

	runCLI(t, url, "user", "register", "--email", "ryw@example.com", "--id", "ryw")
	runCLI(t, url, "user", "confirm", "ryw")
	for i := range 20 {
		verb, want := "disable", "disabled"
		if i%2 == 1 {
			verb, want = "enable", "confirmed"
		}
		runCLI(t, url, "user", verb, "ryw", "--reason", fmt.Sprintf("round %d", i))
		out, _ := runCLI(t, url, "user", "show", "ryw")
		if !containsField(out, "state", want) {
			t.Fatalf("round %d: after %s, show says:\n%s", i, verb, out)
		}
	}
	out, _ := runCLI(t, url, "user", "list", "--state", "confirmed")
	if !strings.Contains(out, "ryw@example.com") {
		t.Errorf("list --state confirmed:\n%s", out)
	}
	out, _ = runCLI(t, url, "user", "list", "--state", "disabled")
	if strings.Contains(out, "ryw@example.com") {
		t.Errorf("list --state disabled shows an enabled user:\n%s", out)
	}
	// One session: revoked once, then unchanged; the history shows it.
	out, _ = runCLI(t, url, "user", "revoke-session", "ryw", "--session", "sid-1", "--reason", "phone lost")
	if !strings.HasPrefix(out, "accepted RevokeSession") {
		t.Errorf("revoke-session: got %q, want accepted", out)
	}
	out, _ = runCLI(t, url, "user", "revoke-session", "ryw", "--session", "sid-1")
	if !strings.HasPrefix(out, "unchanged RevokeSession") {
		t.Errorf("revoke-session again: got %q, want unchanged", out)
	}
	out, _ = runCLI(t, url, "user", "show", "ryw")
	if strings.Count(out, "SessionRevoked") != 1 || !strings.Contains(out, "phone lost") {
		t.Errorf("show after revoke-session, want one SessionRevoked with its reason:\n%s", out)
	}
	runCLI(t, url, "user", "delete", "ryw", "--reason", "done")
	if out, code := runCLI(t, url, "user", "revoke-session", "ryw", "--session", "sid-2"); code != exitRejected || !strings.Contains(out, "code="+events.CodeUserDeleted) {
		t.Errorf("revoke-session of a deleted user: exit %d, %q; want exit %d with code %s", code, out, exitRejected, events.CodeUserDeleted)
	}
	out, _ = runCLI(t, url, "user", "show", "ryw")
	if !containsField(out, "state", "deleted") || !strings.Contains(out, "UserDeleted") {
		t.Errorf("show after delete:\n%s", out)
	}
	out, _ = runCLI(t, url, "verify")
	if !strings.Contains(out, "OK") {
		t.Errorf("verify:\n%s", out)
	}
}

// containsField reports whether a "name  value" line is in out.
func containsField(out, name, value string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == name && f[1] == value {
			return true
		}
	}
	return false
}
