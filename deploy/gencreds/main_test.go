package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"
)

func TestGenerate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "secrets")
	if err := generate(dir, bcrypt.MinCost); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
		return string(b)
	}
	server := read("server.env")
	for _, role := range []string{"service", "admin", "downstream"} {
		env := read(role + ".env")
		pw := between(env, "USERLIFE_NATS_PASSWORD=", "\n")
		hash := between(server, "USERLIFE_"+strings.ToUpper(role)+"_PASSWORD_HASH='", "'")
		if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)); err != nil {
			t.Errorf("%s: the password does not match its hash: %v", role, err)
		}
		if !strings.Contains(env, "USERLIFE_NATS_INBOX_PREFIX=_INBOX_"+role+"\n") {
			t.Errorf("%s.env: no inbox prefix of its own:\n%s", role, env)
		}
	}
	seed := strings.TrimSpace(read("gateway.nk"))
	kp, err := nkeys.FromSeed([]byte(seed))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	if !strings.Contains(server, "USERLIFE_GATEWAY_NKEY="+pub+"\n") {
		t.Errorf("server.env does not carry the gateway's public key %s", pub)
	}
	if err := generate(dir, bcrypt.MinCost); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second run: %v, want a refusal to overwrite", err)
	}
}

func between(s, start, end string) string {
	_, rest, _ := strings.Cut(s, start)
	v, _, _ := strings.Cut(rest, end)
	return v
}
