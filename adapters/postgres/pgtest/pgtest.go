// Package pgtest gives each test its own PostgreSQL database, so tests of
// the postgres adapter (and of anything built on it) run in parallel against
// a real server without seeing each other's rows.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/userlife/userlife/adapters/postgres"
)

// EnvURL names the variable that points tests at a PostgreSQL server. The
// user must be allowed to create and drop databases.
const EnvURL = "USERLIFE_TEST_DATABASE_URL"

// DefaultURL is the local server the README and CI start.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// howToFix ends every connection failure: a test without its database fails
// loudly (CI must never pass by skipping) and says what to do.
const howToFix = "set " + EnvURL + " to a server where this user may CREATE DATABASE, " +
	"or start the local one: pg_ctlcluster --skip-systemctl-redirect 15 main start"

// DSN creates a fresh, empty database (userlife_test_<random hex>) on the
// test server and returns its connection string. The database is dropped,
// open connections and all, when the test ends.
func DSN(t testing.TB) string {
	t.Helper()
	return createDatabase(t, adminURL())
}

// adminURL is the server tests use: EnvURL, else DefaultURL.
func adminURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultURL
}

// createDatabase creates the test's database on the server at admin.
func createDatabase(t testing.TB, admin string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: cannot reach PostgreSQL at %s: %v\n%s", redact(admin), err, howToFix)
	}
	defer conn.Close(context.Background())

	name := "userlife_test_" + randomHex(8)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database %s on %s: %v\n%s", name, redact(admin), err, howToFix)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(admin, name)
}

// Open returns a Store on a fresh, migrated database, closed when the test
// ends.
func Open(t testing.TB) *postgres.Store {
	t.Helper()
	dsn := DSN(t)
	ctx := context.Background()
	if _, err := postgres.Migrate(ctx, dsn); err != nil {
		t.Fatalf("pgtest: migrate: %v", err)
	}
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("pgtest: open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// withDatabase points dsn, a URL or a keyword/value string, at database name.
func withDatabase(dsn, name string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			u.Path = "/" + name
			return u.String()
		}
	}
	// In keyword/value form a later keyword overrides an earlier one.
	return dsn + " dbname=" + name
}

// redact hides a URL's password in messages.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "the server in " + EnvURL
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
