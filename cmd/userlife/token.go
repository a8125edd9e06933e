package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/urfave/cli/v3"

	httpadapter "github.com/userlife/userlife/adapters/http"
)

func tokenCommand() *cli.Command {
	mint := &cli.Command{
		Name:      "mint",
		Usage:     "print an HS256 JWT (claims sub, iat, exp and optional sid) for trying `userlife gateway --hs256-secret-file`",
		ArgsUsage: "--user ID [--sid S] [--ttl D]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "user", Usage: "the sub claim: a user id", Required: true},
			&cli.StringFlag{Name: "sid", Usage: "the sid claim: a session id (what user revoke-session --session revokes)"},
			&cli.DurationFlag{Name: "ttl", Value: 15 * time.Minute, Usage: "lifetime: exp is iat + ttl"},
			&cli.StringFlag{Name: "hs256-secret-file", Usage: "file holding the HS256 secret (at least 32 bytes; trailing newlines are ignored)", Required: true, Sources: env("hs256-secret-file")},
			&cli.StringFlag{Name: "iat", Usage: "issued-at time, RFC 3339 (default: now; whole seconds are kept)"},
		},
		Action: func(_ context.Context, cmd *cli.Command) error {
			secret, err := readSecretFile(cmd.String("hs256-secret-file"))
			if err != nil {
				return cli.Exit(err.Error(), exitError)
			}
			iat := time.Now()
			if s := cmd.String("iat"); s != "" {
				if iat, err = time.Parse(time.RFC3339, s); err != nil {
					return cli.Exit(fmt.Sprintf("--iat %q: want RFC 3339, e.g. 2026-11-28T17:00:00Z", s), exitError)
				}
			}
			tok, err := mintToken(secret, cmd.String("user"), cmd.String("sid"), iat, cmd.Duration("ttl"))
			if err != nil {
				return cli.Exit(err.Error(), exitError)
			}
			fmt.Println(tok)
			return nil
		},
	}
	return &cli.Command{
		Name:     "token",
		Usage:    "tokens for trying the gateway",
		Commands: []*cli.Command{mint},
	}
}

// mintToken signs an HS256 JWT for user, issued at iat (whole seconds),
// expiring ttl later.
func mintToken(secret []byte, user, sid string, iat time.Time, ttl time.Duration) (string, error) {
	var errs []error
	if user == "" {
		errs = append(errs, errors.New("--user must not be empty"))
	}
	if ttl <= 0 {
		errs = append(errs, fmt.Errorf("--ttl %s: want a positive duration", ttl))
	}
	if len(secret) < httpadapter.MinHS256Secret {
		errs = append(errs, fmt.Errorf("HS256 secret of %d bytes: want at least %d", len(secret), httpadapter.MinHS256Secret))
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	iat = iat.Truncate(time.Second)
	claims := httpadapter.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   user,
			IssuedAt:  jwt.NewNumericDate(iat),
			ExpiresAt: jwt.NewNumericDate(iat.Add(ttl)),
		},
		SessionID: sid,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}

// readSecretFile reads an HS256 secret: the file's bytes without trailing
// newlines, so `echo`/editors do not change the key.
func readSecretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("HS256 secret: %w", err)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) < httpadapter.MinHS256Secret {
		return nil, fmt.Errorf("HS256 secret in %s has %d bytes: want at least %d (e.g. `head -c 32 /dev/urandom | base64 > %s`)",
			path, len(b), httpadapter.MinHS256Secret, path)
	}
	return b, nil
}
