package faults

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgBinEnv names the directory of the PostgreSQL server binaries (initdb,
// pg_ctl, postgres) the suite runs its private instance with; by default
// the newest /usr/lib/postgresql/<version>/bin (Debian's layout).
const pgBinEnv = "USERLIFE_TEST_PG_BIN"

func pgBin() (string, error) {
	if d := os.Getenv(pgBinEnv); d != "" {
		return d, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		return "", fmt.Errorf("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: install them " +
			"(apt-get install postgresql) or set " + pgBinEnv + " to the directory holding initdb and pg_ctl")
	}
	slices.SortFunc(found, func(a, b string) int { return cmp.Compare(pgVersion(a), pgVersion(b)) })
	return filepath.Dir(found[len(found)-1]), nil
}

// pgVersion reads the major version from /usr/lib/postgresql/<v>/bin/initdb.
func pgVersion(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

// postgresServer is a private PostgreSQL instance in a temporary directory,
// on a free loopback port, that the test may restart at will.
type postgresServer struct {
	bin, dir, data string
	port           int
}

// pgCommand runs a PostgreSQL binary; as root it runs as the postgres OS
// user, which owns the data directory (the server refuses to run as root).
func pgCommand(dir, name string, args ...string) *exec.Cmd {
	bin := filepath.Join(dir, name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

// startPostgres initialises and starts an instance (trust authentication,
// user postgres) and creates the database userlife in it. It is stopped and
// removed when the test ends.
func startPostgres(t *testing.T) (*postgresServer, string) {
	t.Helper()
	bin, err := pgBin()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "userlife-faults-pg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres OS user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	pg := &postgresServer{bin: bin, dir: dir, data: filepath.Join(dir, "data"), port: freePort(t)}
	if out, err := pgCommand(bin, "initdb", "-D", pg.data, "-A", "trust", "-U", "postgres", "-N").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	pg.start(t)
	t.Cleanup(func() { _ = pgCommand(pg.bin, "pg_ctl", "-D", pg.data, "-m", "immediate", "stop").Run() })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE userlife"); err != nil {
		t.Fatal(err)
	}
	return pg, pg.url("userlife")
}

func (pg *postgresServer) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.port, db)
}

func (pg *postgresServer) start(t *testing.T) {
	t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", pg.port, pg.dir)
	out, err := pgCommand(pg.bin, "pg_ctl", "-D", pg.data, "-l", filepath.Join(pg.dir, "log"), "-o", opts, "-w", "-t", "120", "start").CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(pg.dir, "log"))
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

// crash stops the server the way a crash would (immediate mode: no
// checkpoint, recovery from the WAL at the next start).
func (pg *postgresServer) crash(t *testing.T) {
	t.Helper()
	if out, err := pgCommand(pg.bin, "pg_ctl", "-D", pg.data, "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

// terminateBackends ends every connection to the userlife database but
// the caller's and returns how many it ended.
func (pg *postgresServer) terminateBackends(ctx context.Context) (int, error) {
	conn, err := pgx.Connect(ctx, pg.url("postgres"))
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = 'userlife' AND pid <> pg_backend_pid()) t`).Scan(&n)
	return n, err
}
