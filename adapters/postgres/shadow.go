package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"

	"github.com/jackc/pgx/v5"
)

// index is one index of a live table, recreated on its shadow.
type index struct {
	name   string // the live name, which the shadow's index takes at the swap
	def    string // pg_get_indexdef of the live index
	unique bool   // needed while filling (ON CONFLICT); others come after
	pkey   bool
}

// shadowName is the index's name on the shadow until the swap.
func (ix index) shadowName() string { return ix.name + "_rebuild" }

// indexDef splits pg_get_indexdef's "CREATE [UNIQUE] INDEX name ON
// [ONLY] schema.table USING ..." so the same index can be made on the shadow.
var indexDef = regexp.MustCompile(`^CREATE (UNIQUE )?INDEX \S+ ON (?:ONLY )?(?:(\S+)\.)?\S+ (USING .*)$`)

// on is the statement that creates the index on table.
func (ix index) on(table string) (string, error) {
	m := indexDef.FindStringSubmatch(ix.def)
	if m == nil {
		return "", fmt.Errorf("cannot read the definition of index %s: %s", ix.name, ix.def)
	}
	t := ident(table)
	if m[2] != "" {
		t = m[2] + "." + t
	}
	return "CREATE " + m[1] + "INDEX " + ident(ix.shadowName()) + " ON " + t + " " + m[3], nil
}

// createShadow makes an empty copy of live's table (columns, defaults,
// constraints, collations: whatever the migrations made it) with only its
// unique indexes, and a fresh shadow checkpoint. Taking the shape from the
// live table means a rebuild never drifts from the schema.
func (s *Store) createShadow(ctx context.Context, live, sh target) ([]index, error) {
	var indexes []index
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisunique, i.indisprimary
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = $1::regclass ORDER BY c.relname`, live.table)
		if err != nil {
			return err
		}
		indexes, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
			var ix index
			return ix, r.Scan(&ix.name, &ix.def, &ix.unique, &ix.pkey)
		})
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		queueDropShadow(b, sh)
		b.Queue(`CREATE TABLE ` + ident(sh.table) + ` (LIKE ` + ident(live.table) + ` INCLUDING ALL EXCLUDING INDEXES)`)
		for _, ix := range indexes {
			if !ix.unique {
				continue
			}
			create, err := ix.on(sh.table)
			if err != nil {
				return err
			}
			b.Queue(create)
			if ix.pkey {
				b.Queue(`ALTER TABLE ` + ident(sh.table) + ` ADD CONSTRAINT ` + ident(ix.shadowName()) + ` PRIMARY KEY USING INDEX ` + ident(ix.shadowName()))
			}
		}
		b.Queue(`INSERT INTO projection_checkpoints (name, position) VALUES ($1, 0)`, sh.checkpoint)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, fmt.Errorf("create shadow %s: %w", sh.table, err)
	}
	return indexes, nil
}

// finishShadow builds the remaining indexes in one pass each (cheaper than
// maintaining them row by row), side by side on their own connections
// (CREATE INDEX lets other CREATE INDEXes on the table run), then gathers
// the planner statistics the new table would otherwise lack until
// autovacuum came by (after the indexes: ANALYZE also samples the
// expression indexes, users_email_prefix's lower(email)).
func (s *Store) finishShadow(ctx context.Context, sh target, indexes []index) error {
	var creates []string
	for _, ix := range indexes {
		if ix.unique {
			continue
		}
		create, err := ix.on(sh.table)
		if err != nil {
			return err
		}
		creates = append(creates, create)
	}
	errs := make([]error, len(creates))
	var wg sync.WaitGroup
	for i, create := range creates {
		wg.Go(func() {
			if _, err := s.pool.Exec(ctx, create); err != nil {
				errs[i] = fmt.Errorf("%s: %w", create, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE `+ident(sh.table)); err != nil {
		return fmt.Errorf("analyze %s: %w", sh.table, err)
	}
	return nil
}

// dropShadow removes what a rebuild leaves behind unless it swapped.
func (s *Store) dropShadow(ctx context.Context, sh target) {
	b := &pgx.Batch{}
	queueDropShadow(b, sh)
	_ = s.pool.SendBatch(ctx, b).Close()
}

func queueDropShadow(b *pgx.Batch, sh target) {
	b.Queue(`DROP TABLE IF EXISTS ` + ident(sh.table))
	b.Queue(`DELETE FROM projection_checkpoints WHERE name = $1`, sh.checkpoint)
	b.Queue(`DELETE FROM failed_events WHERE projection = $1`, sh.checkpoint)
}
