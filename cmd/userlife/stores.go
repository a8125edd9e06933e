package main

import (
	"context"
	"log/slog"

	"github.com/userlife/userlife/adapters/memory"
)

// openStores opens the read side's storage: PostgreSQL when a URL is
// given (migrating its schema first), else the in-memory default.
func openStores(ctx context.Context, postgresURL string, log *slog.Logger) (*stores, error) {
	if postgresURL != "" {
		st, err := openPostgres(ctx, postgresURL, log)
		if err != nil {
			return nil, err
		}
		// serve keeps the revocation view as a table too; replay and
		// verify, which also open PostgreSQL, leave it alone.
		st.revocations = st.pg.Revocations()
		return st, nil
	}
	m := memory.New()
	return &stores{kind: "memory", users: m.Users(), audit: m.Audit(), queries: m, close: func() {}}, nil
}
