package main

import (
	"context"
	"errors"
)

// addItems inserts to-do items for owner, as the service's own API would.
func (s *todoStore) addItems(ctx context.Context, owner string, titles ...string) error {
	if len(titles) == 0 {
		return errors.New("no titles")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO todo_items (owner_id, title) SELECT $1, unnest($2::text[])`, owner, titles)
	return err
}

// countItems is how many items owner has.
func (s *todoStore) countItems(ctx context.Context, owner string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM todo_items WHERE owner_id = $1`, owner).Scan(&n)
	return n, err
}
