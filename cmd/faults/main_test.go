package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Paths of the binaries TestMain builds.
var (
	userlifeBin string
	natsBin     string
)

// TestMain builds userlife (with the race detector, so a data race in the
// service under fault fails the suite) and nats-server from the module's
// own nats-server version, once for every test.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "userlife-faults-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	userlifeBin = filepath.Join(dir, "userlife")
	natsBin = filepath.Join(dir, "nats-server")
	builds := []struct {
		out  string
		args []string
	}{
		{userlifeBin, []string{"build", "-race", "-o", userlifeBin, "github.com/userlife/userlife/cmd/userlife"}},
		{natsBin, []string{"build", "-o", natsBin, "github.com/nats-io/nats-server/v2"}},
	}
	for _, b := range builds {
		if out, err := exec.Command("go", b.args...).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go %v: %v\n%s", b.args, err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
