package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationsTable records applied migrations. It is not goose's default name
// so that another goose-managed application sharing the database keeps its
// own history.
const migrationsTable = "userlife_migrations"

// migrateLockID is the session advisory lock two processes migrating at once
// serialise on: an arbitrary constant of userlife's, not goose's default,
// which would make unrelated applications wait for each other.
const migrateLockID int64 = 0x5f1a_2b3c

// Migrate applies every embedded up migration the database at dsn lacks and
// returns the names of those it applied (none when the schema is current).
// It is idempotent, and safe when several processes call it at once: they
// take turns on a PostgreSQL advisory lock, and the later ones find nothing
// left to do.
func Migrate(ctx context.Context, dsn string) ([]string, error) {
	return migrate(ctx, dsn, 0)
}

// migrate applies the migrations up to version upTo, or all when it is 0
// (tests stop earlier to upgrade a database an older build made).
func migrate(ctx context.Context, dsn string, upTo int64) ([]string, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()

	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	// Poll the lock every second for up to ten minutes: a migration that
	// rewrites a large table can take a while, and waiting is the point.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrateLockID), lock.WithLockTimeout(1, 600))
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker),
		goose.WithTableName(migrationsTable),
		// Go migrations registered globally by some other package must
		// never run against this schema.
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	var results []*goose.MigrationResult
	if upTo > 0 {
		results, err = p.UpTo(ctx, upTo)
	} else {
		results, err = p.Up(ctx)
	}
	applied := make([]string, 0, len(results))
	for _, r := range results {
		if r.Error == nil {
			applied = append(applied, path.Base(r.Source.Path))
		}
	}
	if err != nil {
		return applied, fmt.Errorf("postgres: migrate: %w", err)
	}
	return applied, nil
}

// ErrNotMigrated is returned by Open when the database's schema is missing or
// older than this build's migrations.
var ErrNotMigrated = errors.New("postgres: schema not migrated (run `userlife migrate` or call postgres.Migrate first)")

// schemaVersion is the highest embedded migration version: the schema this
// build's queries are written against.
func schemaVersion() (int64, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return 0, err
	}
	var latest int64
	for _, n := range names {
		digits, _, _ := strings.Cut(path.Base(n), "_")
		v, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("migration %s: no version prefix", n)
		}
		latest = max(latest, v)
	}
	return latest, nil
}
