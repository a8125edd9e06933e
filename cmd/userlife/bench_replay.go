package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/userlife/userlife/adapters/memory"
	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natsbench"
	"github.com/userlife/userlife/adapters/postgres"
	"github.com/userlife/userlife/projections"
)

// replayTimeout bounds each replay measurement in time (the stream length
// bounds it in count).
const replayTimeout = 10 * time.Minute

// streamLength is how many messages the event stream holds.
func streamLength(ctx context.Context, js jetstream.JetStream) (int, error) {
	s, err := js.Stream(ctx, natsadapter.EventsStream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return int(info.State.Msgs), nil
}

// measureReplayMemory replays the whole stream (n messages) into a fresh
// in-memory store, both projections, as serve does at start.
func measureReplayMemory(ctx context.Context, js jetstream.JetStream, n int) (natsbench.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, replayTimeout)
	defer cancel()
	m := memory.New()
	start := time.Now()
	pr := natsadapter.NewProjectors(js, []projections.Projection{m.Users(), m.Audit()},
		natsadapter.ProjectorConfig{BatchSize: 5000, Logger: slog.New(slog.DiscardHandler)})
	if err := pr.CatchUp(ctx); err != nil {
		return natsbench.Result{}, fmt.Errorf("replay into memory: %w", err)
	}
	return natsbench.Result{Ops: n, Elapsed: time.Since(start)}, nil
}

// auditFilter selects audit rows; the bench uses one that every event
// matches (a full export of the trail), the worst case for a scan.
type auditFilter struct {
	From, To time.Time
	UserID   string // "" for every user
}

func (f auditFilter) match(a projections.AuditEvent) bool {
	return !a.OccurredAt.Before(f.From) && a.OccurredAt.Before(f.To) && (f.UserID == "" || a.UserID == f.UserID)
}

// auditScanner reads the whole event stream (n messages) and emits the
// audit rows that match f.
type auditScanner func(ctx context.Context, js jetstream.JetStream, n int, f auditFilter, emit func(projections.AuditEvent)) error

// scanAuditLog is `userlife audit` with a filter every event matches:
// AuditLog.Audit, the scanner of the CLI and of GET /v1/audit.
func scanAuditLog(ctx context.Context, js jetstream.JetStream, _ int, f auditFilter, emit func(projections.AuditEvent)) error {
	q := projections.AuditQuery{UserID: f.UserID, Since: f.From, Until: f.To}
	return natsadapter.NewAuditLog(js, natsadapter.AuditConfig{}).Audit(ctx, q, func(r projections.AuditEvent) error {
		emit(r)
		return nil
	})
}

// measureAuditScan runs scan over the whole stream with a filter every
// event matches and checks every event came out as a row.
func measureAuditScan(ctx context.Context, js jetstream.JetStream, scan auditScanner, n int) (natsbench.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, replayTimeout)
	defer cancel()
	rows := 0
	start := time.Now()
	err := scan(ctx, js, n, auditFilter{To: time.Now().Add(24 * time.Hour)}, func(projections.AuditEvent) { rows++ })
	elapsed := time.Since(start)
	if err != nil {
		return natsbench.Result{}, err
	}
	if rows != n {
		return natsbench.Result{}, fmt.Errorf("audit scan returned %d rows of %d events", rows, n)
	}
	return natsbench.Result{Ops: rows, Elapsed: elapsed}, nil
}

// measureReplayPostgres is `userlife replay`: both PostgreSQL projections
// rebuilt aside from the whole stream (n messages) and swapped in.
func measureReplayPostgres(ctx context.Context, js jetstream.JetStream, dsn string, n int) (natsbench.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, replayTimeout)
	defer cancel()
	if _, err := postgres.Migrate(ctx, dsn); err != nil {
		return natsbench.Result{}, err
	}
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		return natsbench.Result{}, err
	}
	defer st.Close()
	start := time.Now()
	if err := rebuildPostgres(ctx, js, st, projections.Names(), slog.New(slog.DiscardHandler)); err != nil {
		return natsbench.Result{}, fmt.Errorf("replay into PostgreSQL: %w", err)
	}
	return natsbench.Result{Ops: n, Elapsed: time.Since(start)}, nil
}

// rawCopy is the PostgreSQL anchor: one CopyFrom of n audit-like rows into
// a table shaped like audit_events (same columns, same indexes) in the
// migrated database dsn.
func rawCopy(ctx context.Context, dsn string, n int) (natsbench.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, replayTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return natsbench.Result{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `DROP TABLE IF EXISTS raw_copy; CREATE TABLE raw_copy (LIKE audit_events INCLUDING ALL)`); err != nil {
		return natsbench.Result{}, err
	}
	now := time.Now()
	data := []byte(`{"revoked_before":"2026-05-01T12:00:00Z"}`)
	row := make([]any, 9)
	start := time.Now()
	copied, err := conn.CopyFrom(ctx, pgx.Identifier{"raw_copy"},
		[]string{"seq", "event_id", "type", "user_id", "actor", "reason", "command_id", "occurred_at", "data"},
		pgx.CopyFromSlice(n, func(i int) ([]any, error) {
			row[0], row[1], row[2], row[3] = int64(i+1), "0195924c-7a3b-7c1d-9e2f-3a4b5c6d7e8f", "SessionsRevoked", "user-"+strconv.Itoa(i%200_000)
			row[4], row[5], row[6], row[7], row[8] = "loader", "test", "c-"+strconv.Itoa(i), now, data
			return row, nil
		}))
	if err != nil {
		return natsbench.Result{}, fmt.Errorf("raw CopyFrom: %w", err)
	}
	return natsbench.Result{Ops: int(copied), Elapsed: time.Since(start)}, nil
}

// benchDatabase creates an empty database userlife_bench_<hex> on the
// server at admin and returns its URL and a function that drops it.
func benchDatabase(ctx context.Context, admin string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "userlife_bench_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database %s (the bench needs a user that may CREATE DATABASE): %w", name, err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, admin); err == nil {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = conn.Close(ctx)
		}
	}
	return withDatabase(admin, name), drop, nil
}

// withDatabase points dsn, a URL or a keyword/value string, at database name.
func withDatabase(dsn, name string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			u.Path = "/" + name
			return u.String()
		}
	}
	return dsn + " dbname=" + name
}
