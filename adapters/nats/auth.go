package nats

import (
	"errors"
	"fmt"
	"os"

	"github.com/nats-io/nats.go"
)

// ClientAuth is how a client proves who it is to a NATS server that
// requires it, and how it checks the server: at most one of user/password,
// an nkey seed file and a creds file, plus optional TLS files. The zero
// value connects anonymously over plain TCP.
type ClientAuth struct {
	User     string
	Password string
	// NkeySeedFile holds a user nkey seed (SU…), as `nk -gen user` writes it.
	NkeySeedFile string
	// CredsFile is a decentralized-auth creds file (user JWT + seed).
	CredsFile string
	// TLSCA verifies the server against this CA bundle (PEM) instead of
	// the system roots; TLSCert and TLSKey present a client certificate.
	TLSCA   string
	TLSCert string
	TLSKey  string
	// InboxPrefix replaces "_INBOX" in reply subjects, so a server can let
	// each role subscribe to its own replies only.
	InboxPrefix string
}

// Validate joins every problem: conflicting methods, a half-given pair, a
// file that cannot be read.
func (a ClientAuth) Validate() error {
	var err error
	methods := 0
	for _, set := range []bool{a.User != "" || a.Password != "", a.NkeySeedFile != "", a.CredsFile != ""} {
		if set {
			methods++
		}
	}
	if methods > 1 {
		err = errors.Join(err, errors.New("give one of user/password, an nkey seed file and a creds file"))
	}
	if a.User == "" && a.Password != "" {
		err = errors.Join(err, errors.New("a NATS password needs a user"))
	}
	if (a.TLSCert == "") != (a.TLSKey == "") {
		err = errors.Join(err, errors.New("a TLS client certificate and its key go together"))
	}
	for _, f := range []struct{ what, path string }{
		{"nkey seed file", a.NkeySeedFile}, {"creds file", a.CredsFile},
		{"TLS CA file", a.TLSCA}, {"TLS certificate file", a.TLSCert}, {"TLS key file", a.TLSKey},
	} {
		if f.path == "" {
			continue
		}
		if _, ferr := os.Stat(f.path); ferr != nil {
			err = errors.Join(err, fmt.Errorf("NATS %s: %w", f.what, ferr))
		}
	}
	return err
}

// Options turns a into nats.go options for Connect.
func (a ClientAuth) Options() ([]nats.Option, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	var opts []nats.Option
	switch {
	case a.User != "":
		opts = append(opts, nats.UserInfo(a.User, a.Password))
	case a.NkeySeedFile != "":
		o, err := nats.NkeyOptionFromSeed(a.NkeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("NATS nkey seed file %s: %w", a.NkeySeedFile, err)
		}
		opts = append(opts, o)
	case a.CredsFile != "":
		opts = append(opts, nats.UserCredentials(a.CredsFile))
	}
	if a.TLSCA != "" {
		opts = append(opts, nats.RootCAs(a.TLSCA))
	}
	if a.TLSCert != "" {
		opts = append(opts, nats.ClientCert(a.TLSCert, a.TLSKey))
	}
	if a.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(a.InboxPrefix))
	}
	return opts, nil
}
