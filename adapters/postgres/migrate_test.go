package postgres_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/userlife/userlife/adapters/postgres"
	"github.com/userlife/userlife/adapters/postgres/pgtest"
)

var allMigrations = []string{"00001_projections.sql", "00002_revocations.sql"}

func TestOpenRefusesAnUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	s, err := postgres.Open(context.Background(), dsn)
	if err == nil {
		s.Close()
	}
	if !errors.Is(err, postgres.ErrNotMigrated) {
		t.Fatalf("Open on an empty database = %v, want ErrNotMigrated", err)
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	applied, err := postgres.Migrate(ctx, dsn)
	if err != nil || !slices.Equal(applied, allMigrations) {
		t.Fatalf("first Migrate = %v, %v; want %v, nil", applied, err, allMigrations)
	}
	applied, err = postgres.Migrate(ctx, dsn)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second Migrate = %v, %v; want nothing applied", applied, err)
	}
	open(t, dsn)
}

// TestMigrateConcurrently: two processes starting at once both succeed;
// exactly one of them applies each migration.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	results := make([][]string, 2)
	errs := make([]error, 2)
	for i := range results {
		wg.Go(func() { results[i], errs[i] = postgres.Migrate(context.Background(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Migrate #%d: %v", i, err)
		}
	}
	all := append(slices.Clone(results[0]), results[1]...)
	if !slices.Equal(all, allMigrations) {
		t.Fatalf("Migrate applied %v and %v; want %v applied once in all", results[0], results[1], allMigrations)
	}
	open(t, dsn)
}

// TestOpenRefusesAnOlderSchema: a database migrated by an older build
// (here: its first migration only) is refused too.
func TestOpenRefusesAnOlderSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	if _, err := postgres.MigrateUpTo(ctx, dsn, 1); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.Open(ctx, dsn)
	if err == nil {
		s.Close()
	}
	if !errors.Is(err, postgres.ErrNotMigrated) {
		t.Fatalf("Open on a schema behind this build = %v, want ErrNotMigrated", err)
	}
}
