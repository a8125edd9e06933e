package postgres_test

import (
	"testing"

	"github.com/userlife/userlife/adapters/postgres/pgtest"
	"github.com/userlife/userlife/projections/projectionstest"
)

// TestConformance runs the suite every projection store passes, each check
// on its own fresh database.
func TestConformance(t *testing.T) {
	t.Parallel()
	projectionstest.Run(t, func(t *testing.T) projectionstest.Stores {
		s := pgtest.Open(t)
		return projectionstest.Stores{Users: s.Users(), Audit: s.Audit(), Queries: s}
	})
}
