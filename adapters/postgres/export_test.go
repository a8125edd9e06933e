package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// SetBeforeCommit lets the external tests act inside a batch's transaction
// after its rows and checkpoint are written and before COMMIT: fail it, or
// kill its connection as a crash would.
func SetBeforeCommit(s *Store, f func(ctx context.Context, tx pgx.Tx, checkpoint string) error) {
	s.beforeCommit = f
}

// SetShadowLimit makes rebuilds write to their shadow tables every n users
// rows or audit messages, so small tests take the paths of large rebuilds.
func SetShadowLimit(s *Store, n int) { s.shadowLimit = n }

// MigrateUpTo applies the migrations up to version v only, as an older
// build would have.
func MigrateUpTo(ctx context.Context, dsn string, v int64) ([]string, error) {
	return migrate(ctx, dsn, v)
}
