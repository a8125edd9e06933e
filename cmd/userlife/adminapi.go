package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/userlife/userlife/adapters/http/admin"
	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// adminTokensHint says how to configure admin tokens; the API's 401s and
// serve's log say it while none is configured.
const adminTokensHint = "Start serve with --admin-tokens-file FILE (or USERLIFE_ADMIN_TOKENS_FILE) or set USERLIFE_ADMIN_TOKENS; " +
	"one entry per line (or `;`-separated): `<token> <actor> <role>`, token ≥ 16 characters, role admin or viewer."

// adminTokens reads the tokens of file (--admin-tokens-file) and of env
// (USERLIFE_ADMIN_TOKENS).
func adminTokens(path, env string) ([]admin.Token, error) {
	var tokens []admin.Token
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--admin-tokens-file: %w", err)
		}
		t, err := admin.ParseTokens(string(b), path)
		if err != nil {
			return nil, err
		}
		if len(t) == 0 {
			return nil, fmt.Errorf("--admin-tokens-file %s lists no token; %s", path, adminTokensHint)
		}
		tokens = append(tokens, t...)
	}
	if strings.TrimSpace(env) != "" {
		t, err := admin.ParseTokens(env, "USERLIFE_ADMIN_TOKENS")
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, t...)
	}
	seen := map[string]bool{}
	for _, t := range tokens {
		if seen[t.Secret] {
			return nil, errors.New("admin tokens: the same token is configured twice (in the file and in USERLIFE_ADMIN_TOKENS)")
		}
		seen[t.Secret] = true
	}
	return tokens, nil
}

// queueCommands sends the API's commands through the command queue, like
// every other client, and waits for their outcomes.
type queueCommands struct{ c *natsadapter.Client }

func (q queueCommands) Do(ctx context.Context, cmd events.Command) (events.Outcome, error) {
	w, err := q.c.Results().Watch(cmd.Meta().CommandID)
	if err != nil {
		return events.Outcome{}, fmt.Errorf("%w: %v", admin.ErrUnavailable, err)
	}
	defer w.Close()
	if _, err := q.c.Send(ctx, cmd); err != nil {
		return events.Outcome{}, fmt.Errorf("%w: %v", admin.ErrUnavailable, err)
	}
	return w.Wait(ctx)
}

// storedOutcomes reads outcomes from USERLIFE_RESULTS.
type storedOutcomes struct{ r *natsadapter.Results }

func (s storedOutcomes) Outcome(ctx context.Context, id string) (events.Outcome, error) {
	o, err := s.r.Get(ctx, id)
	if errors.Is(err, natsadapter.ErrNoOutcome) {
		return o, fmt.Errorf("%w: %s", admin.ErrNoOutcome, id)
	}
	return o, err
}

// newAdminAPI builds the /v1 admin API over serve's connection and read
// side.
func newAdminAPI(ctx context.Context, cfg ServeConfig, log *slog.Logger, nc *nats.Conn, js jetstream.JetStream, q projections.Queries) (*admin.Handler, error) {
	client, err := natsadapter.NewClient(ctx, js)
	if err != nil {
		return nil, err
	}
	ready := cfg.Ready
	if ready == nil {
		ready = func(context.Context) error {
			if !nc.IsConnected() {
				return fmt.Errorf("not connected to NATS (%s)", nc.Status())
			}
			return nil
		}
	}
	erasures, err := natsadapter.NewErasures(ctx, js)
	if err != nil {
		return nil, err
	}
	auditLog := natsadapter.NewAuditLog(js, natsadapter.AuditConfig{})
	return admin.New(admin.Config{
		Commands: queueCommands{client},
		Outcomes: storedOutcomes{client.Results()},
		Queries:  q,
		Erasures: erasures,
		Audit:    auditLog,
		StateAt: func(ctx context.Context, userID string, at time.Time) (any, error) {
			u, err := auditLog.StateAt(ctx, userID, at)
			if err != nil {
				return nil, err
			}
			return admin.NewUserAt(u), nil
		},
		WaitProjected:  func(ctx context.Context, seq uint64) error { return waitProjectedLocally(ctx, q, seq) },
		Tokens:         cfg.AdminTokens,
		NoTokensHint:   adminTokensHint,
		Console:        cfg.Console,
		Ready:          ready,
		Metrics:        cfg.Metrics,
		Logger:         log,
		OutcomeTimeout: cfg.AdminOutcomeTimeout,
	})
}

// waitProjectedLocally returns once this process's users and audit
// projections have applied the event at seq: the API's next read, served
// by the same projections, then shows it (another serve sharing the queue
// may be ahead or behind).
func waitProjectedLocally(ctx context.Context, q projections.Queries, seq uint64) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		pos, err := q.Positions(ctx)
		if err != nil {
			return err
		}
		if pos[projections.Users] >= seq && pos[projections.Audit] >= seq {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("projections at users=%d audit=%d, not yet at %d: %w", pos[projections.Users], pos[projections.Audit], seq, ctx.Err())
		case <-tick.C:
		}
	}
}
