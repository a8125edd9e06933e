package pgtest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// fatalTB records what a helper reports through Fatalf and stops there, as
// testing.T would.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper()        {}
func (f *fatalTB) Cleanup(func()) {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestUnreachableServerFailsWithTheFix: no server means a failed test that
// says how to get one, never a skip.
func TestUnreachableServerFailsWithTheFix(t *testing.T) {
	t.Parallel()
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		createDatabase(tb, "postgres://postgres:secret@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=5")
	}()
	<-done
	for _, want := range []string{"cannot reach PostgreSQL", EnvURL, "pg_ctlcluster --skip-systemctl-redirect 15 main start"} {
		if !strings.Contains(tb.msg, want) {
			t.Errorf("Fatalf message %q does not contain %q", tb.msg, want)
		}
	}
	if strings.Contains(tb.msg, "secret") {
		t.Errorf("Fatalf message %q shows the password", tb.msg)
	}
}

// TestDSNIsAFreshDatabase: each call is a database of its own, empty, and
// gone after the test.
func TestDSNIsAFreshDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var names []string
	t.Run("create", func(t *testing.T) {
		for range 2 {
			conn, err := pgx.Connect(ctx, DSN(t))
			if err != nil {
				t.Fatal(err)
			}
			var name string
			var tables int
			err = conn.QueryRow(ctx, `SELECT current_database(), (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')`).Scan(&name, &tables)
			conn.Close(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(name, "userlife_test_") || tables != 0 {
				t.Errorf("database %q with %d tables, want a fresh userlife_test_ database", name, tables)
			}
			names = append(names, name)
		}
	})
	if len(names) != 2 || names[0] == names[1] {
		t.Fatalf("databases %v, want two different ones", names)
	}
	conn, err := pgx.Connect(ctx, adminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var left int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = ANY($1)`, names).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d of %v still exist after the test (%v)", left, names, err)
	}
}

func TestWithDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct{ dsn, want string }{
		{"postgres://u@h:5432/postgres?sslmode=disable", "postgres://u@h:5432/x?sslmode=disable"},
		{"postgresql://u:p@h/db", "postgresql://u:p@h/x"},
		{"host=h user=u dbname=postgres", "host=h user=u dbname=postgres dbname=x"},
	}
	for _, tt := range tests {
		if got := withDatabase(tt.dsn, "x"); got != tt.want {
			t.Errorf("withDatabase(%q) = %q, want %q", tt.dsn, got, tt.want)
		}
	}
}
