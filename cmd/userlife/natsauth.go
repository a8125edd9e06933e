package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/urfave/cli/v3"

	natsadapter "github.com/userlife/userlife/adapters/nats"
)

// natsAuthFlags are the NATS credential and TLS flags of every command that
// connects to NATS (see deploy/README.md for the roles).
func natsAuthFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "nats-user", Usage: "NATS user name", Sources: env("nats-user")},
		&cli.StringFlag{Name: "nats-password", Usage: "NATS password (prefer USERLIFE_NATS_PASSWORD: flags show in ps)", Sources: env("nats-password")},
		&cli.StringFlag{Name: "nats-nkey", Usage: "file holding the NATS user's nkey seed (SU…)", Sources: env("nats-nkey")},
		&cli.StringFlag{Name: "nats-creds", Usage: "NATS creds file (user JWT and seed)", Sources: env("nats-creds")},
		&cli.StringFlag{Name: "nats-tls-ca", Usage: "verify the NATS server's certificate against this CA bundle (PEM)", Sources: env("nats-tls-ca")},
		&cli.StringFlag{Name: "nats-tls-cert", Usage: "client certificate (PEM) for NATS TLS", Sources: env("nats-tls-cert")},
		&cli.StringFlag{Name: "nats-tls-key", Usage: "key of --nats-tls-cert (PEM)", Sources: env("nats-tls-key")},
		&cli.StringFlag{Name: "nats-inbox-prefix", Usage: "reply-subject prefix instead of _INBOX (a role's own, e.g. _INBOX_admin)", Sources: env("nats-inbox-prefix")},
	}
}

// natsAuth reads the flags of natsAuthFlags.
func natsAuth(cmd *cli.Command) natsadapter.ClientAuth {
	return natsadapter.ClientAuth{
		User:         cmd.String("nats-user"),
		Password:     cmd.String("nats-password"),
		NkeySeedFile: cmd.String("nats-nkey"),
		CredsFile:    cmd.String("nats-creds"),
		TLSCA:        cmd.String("nats-tls-ca"),
		TLSCert:      cmd.String("nats-tls-cert"),
		TLSKey:       cmd.String("nats-tls-key"),
		InboxPrefix:  cmd.String("nats-inbox-prefix"),
	}
}

// natsOptions turns the flags into connection options, or a CLI error.
func natsOptions(cmd *cli.Command) ([]nats.Option, error) {
	opts, err := natsAuth(cmd).Options()
	if err != nil {
		return nil, cli.Exit(fmt.Sprintf("NATS credentials: %v", err), exitError)
	}
	return opts, nil
}

// connectCLI opens the CLI's connection to --nats with the credential
// flags; hint ends the error message when the server cannot be reached.
func connectCLI(cmd *cli.Command, hint string) (*nats.Conn, error) {
	opts, err := natsOptions(cmd)
	if err != nil {
		return nil, err
	}
	opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			fmt.Fprintf(os.Stderr, "userlife: the NATS server refused this user: %v (deploy/README.md lists what each role may do)\n", err)
			return
		}
		fmt.Fprintf(os.Stderr, "userlife: NATS: %v\n", err)
	}))
	nc, err := natsadapter.Connect(cmd.String("nats"), "userlife-cli", nil, opts...)
	if err != nil {
		return nil, cli.Exit(fmt.Sprintf("%v (%s)", err, hint), exitError)
	}
	return nc, nil
}
