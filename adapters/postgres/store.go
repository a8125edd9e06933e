package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/userlife/userlife/projections"
)

// Store keeps the users, audit and revocations projections in PostgreSQL and
// answers queries over them.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time

	// beforeCommit, when set (only by this package's tests), runs after a
	// batch's rows and checkpoint are written and before COMMIT, so a test
	// can fail the transaction at its most delicate point.
	beforeCommit func(ctx context.Context, tx pgx.Tx, checkpoint string) error
	// shadowLimit, when set (only by tests), replaces shadowUsersInMemory
	// so that small rebuilds exercise the writes of a large one.
	shadowLimit int
}

var _ projections.Queries = (*Store)(nil)

// DefaultMaxConns is the pool size unless the URL sets pool_max_conns.
const DefaultMaxConns = 16

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock that stamps failed events (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Open connects a pool to the database at dsn and checks that its schema is
// the one this build expects. It does not migrate: schema changes are an
// explicit step (Migrate), and Open returns ErrNotMigrated until it is done.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// pgxpool pings a connection on acquire only after a second idle, so
	// after a PostgreSQL restart or killed backends the first query on
	// each connection idle for less than that failed once. Pinging after
	// 100 ms idle costs a round trip only on a quiet pool.
	cfg.ShouldPing = func(_ context.Context, p pgxpool.ShouldPingParams) bool {
		return p.IdleDuration > 100*time.Millisecond
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgxpool's default, max(4, CPUs), is taken whole by two projectors,
		// a rebuild and the query service on a small machine: queries then
		// wait for a connection. Set pool_max_conns in the URL to change it.
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if err := s.checkSchema(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// checkSchema compares the database's migration version with the newest
// embedded migration, so a missing or stale schema is one clear error at
// start rather than a "relation does not exist" on the first batch.
func (s *Store) checkSchema(ctx context.Context) error {
	want, err := schemaVersion()
	if err != nil {
		return err
	}
	var got int64
	err = s.pool.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM `+migrationsTable).Scan(&got)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42P01": // undefined_table
		return fmt.Errorf("%w: no %s table", ErrNotMigrated, migrationsTable)
	case err != nil:
		return fmt.Errorf("postgres: read schema version: %w", err)
	case got < want:
		return fmt.Errorf("%w: schema version %d, this build needs %d", ErrNotMigrated, got, want)
	}
	return nil
}

// Users is the users projection over the live users table.
func (s *Store) Users() projections.Projection { return s.usersAt(liveUsers) }

// Audit is the audit projection over the live audit_events table.
func (s *Store) Audit() projections.Projection { return s.auditAt(liveAudit) }

// target is where one projection's rows go: the live table, or the shadow a
// rebuild fills. checkpoint names both its projection_checkpoints row and
// its failed_events rows.
type target struct {
	projection string // projections.Users, projections.Audit or RevocationsProjection
	table      string
	checkpoint string
}

var (
	liveUsers       = target{projections.Users, "users", projections.Users}
	liveAudit       = target{projections.Audit, "audit_events", projections.Audit}
	liveRevocations = target{RevocationsProjection, "revocations", RevocationsProjection}
)

// shadow is the target a rebuild of live fills.
func (t target) shadow() target {
	return target{t.projection, t.table + "_rebuild", t.checkpoint + "#rebuild"}
}
