// Command gencreds makes the credentials of the roles in
// deploy/nats-server.conf: a random password and its bcrypt hash for
// service, admin and downstream, and an nkey pair for gateways.
//
//	go run ./deploy/gencreds -out deploy/secrets
//
// It writes, each readable by its owner only:
//
//	server.env      the hashes and the gateway's public nkey, for nats-server
//	service.env     USERLIFE_NATS_* for `userlife serve`
//	admin.env       USERLIFE_NATS_* for the userlife CLI
//	downstream.env  user and password of the downstream role
//	gateway.nk      the gateway's nkey seed; gateway.env points at it
//
// It refuses to overwrite existing files.
package main

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"
)

func main() {
	out := flag.String("out", "deploy/secrets", "directory to write the credential files to")
	cost := flag.Int("cost", bcrypt.DefaultCost, "bcrypt cost of the password hashes (nats-server accepts 4-31)")
	flag.Parse()
	if err := generate(*out, *cost); err != nil {
		fmt.Fprintln(os.Stderr, "gencreds:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote server.env, service.env, admin.env, downstream.env, gateway.env and gateway.nk to %s\n", *out)
}

func generate(dir string, cost int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	server := ""
	files := map[string]string{}
	for _, role := range []string{"service", "admin", "downstream"} {
		pw := rand.Text()
		hash, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
		if err != nil {
			return err
		}
		server += fmt.Sprintf("USERLIFE_%s_PASSWORD_HASH='%s'\n", upper(role), hash)
		files[role+".env"] = fmt.Sprintf("USERLIFE_NATS_USER=%s\nUSERLIFE_NATS_PASSWORD=%s\nUSERLIFE_NATS_INBOX_PREFIX=_INBOX_%s\n", role, pw, role)
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return err
	}
	seed, err := kp.Seed()
	if err != nil {
		return err
	}
	server += fmt.Sprintf("USERLIFE_GATEWAY_NKEY=%s\n", pub)
	files["server.env"] = server
	files["gateway.nk"] = string(seed) + "\n"
	files["gateway.env"] = fmt.Sprintf("USERLIFE_NATS_NKEY=%s\nUSERLIFE_NATS_INBOX_PREFIX=_INBOX_gateway\n", filepath.Join(abs, "gateway.nk"))
	for name := range files {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return fmt.Errorf("%s already exists; remove the old credentials first", filepath.Join(dir, name))
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
