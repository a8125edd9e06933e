package nats

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
)

func TestClientAuthValidate(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	seedFile := filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		auth ClientAuth
		want string // "" when valid
	}{
		{"anonymous", ClientAuth{}, ""},
		{"user and password", ClientAuth{User: "admin", Password: "pw"}, ""},
		{"nkey", ClientAuth{NkeySeedFile: seedFile, InboxPrefix: "_INBOX_gateway"}, ""},
		{"creds and TLS", ClientAuth{CredsFile: file, TLSCA: file, TLSCert: file, TLSKey: file}, ""},
		{"two methods", ClientAuth{User: "a", Password: "b", CredsFile: file}, "give one of"},
		{"password alone", ClientAuth{Password: "pw"}, "needs a user"},
		{"cert without key", ClientAuth{TLSCert: file}, "go together"},
		{"missing CA", ClientAuth{TLSCA: missing}, "TLS CA file"},
		{"missing seed", ClientAuth{NkeySeedFile: missing}, "nkey seed file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.auth.Options()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Options: %v, want none", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("Options: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestClientAuthBadSeed(t *testing.T) {
	t.Parallel()
	seed := filepath.Join(t.TempDir(), "seed")
	if err := os.WriteFile(seed, []byte("not a seed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (ClientAuth{NkeySeedFile: seed}).Options(); err == nil || !strings.Contains(err.Error(), seed) {
		t.Fatalf("Options with a bad seed file: %v, want an error naming the file", err)
	}
}
