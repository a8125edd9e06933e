package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// binDir holds the binaries the tests build; TestMain removes it.
var binDir string

// TestMain makes the directory the binaries are built into, once for every
// test, and removes it at the end.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "userlife-faults-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles userlife (with the race detector, so that a data race in
// the service under fault fails the suite) and nats-server at the module's
// own version, on first use: a run that selects no test of this package
// builds nothing.
var build = sync.OnceValues(func() ([2]string, error) {
	userlife, nats := filepath.Join(binDir, "userlife"), filepath.Join(binDir, "nats-server")
	for _, args := range [][]string{
		{"build", "-race", "-o", userlife, "github.com/userlife/userlife/cmd/userlife"},
		{"build", "-o", nats, "github.com/nats-io/nats-server/v2"},
	} {
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			return [2]string{}, fmt.Errorf("go %v: %v\n%s", args, err, out)
		}
	}
	return [2]string{userlife, nats}, nil
})

func binaries(t *testing.T) (userlife, nats string) {
	t.Helper()
	b, err := build()
	if err != nil {
		t.Fatal(err)
	}
	return b[0], b[1]
}
