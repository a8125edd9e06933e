package memory_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/userlife/userlife/adapters/memory"
	"github.com/userlife/userlife/projections"
	"github.com/userlife/userlife/projections/projectionstest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	projectionstest.Run(t, func(*testing.T) projectionstest.Stores {
		s := memory.New()
		return projectionstest.Stores{Users: s.Users(), Audit: s.Audit(), Queries: s}
	})
}

// TestReset: a reset store is empty and takes the stream from sequence 1.
func TestReset(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := memory.New()
	b := lifecycles(t, 20)
	b = append(b, projections.Message{Seq: b.Last() + 1, Subject: "userlife.events.x.Nope", Err: errors.New("bad")})
	apply(t, s, b)
	s.Reset()
	pos, _ := s.Positions(ctx)
	page, _ := s.ListUsers(ctx, projections.ListQuery{})
	hist, _ := s.History(ctx, "u0001")
	fails, _ := s.Failures(ctx)
	if pos[projections.Users] != 0 || pos[projections.Audit] != 0 || len(page.Users) != 0 || len(hist) != 0 || len(fails) != 0 {
		t.Errorf("after Reset: positions %v, %d users, %d history rows, %d failures; want all empty",
			pos, len(page.Users), len(hist), len(fails))
	}
	apply(t, s, b)
	if hist, _ := s.History(ctx, "u0001"); len(hist) != 3 {
		t.Errorf("History(u0001) after Reset and a new replay has %d rows, want 3", len(hist))
	}
}

func apply(t *testing.T, s *memory.Store, b projections.Batch) {
	t.Helper()
	for _, p := range []projections.Projection{s.Users(), s.Audit()} {
		if err := p.Apply(t.Context(), b); err != nil {
			t.Fatalf("%s.Apply: %v", p.Name(), err)
		}
	}
}

// TestFailuresOwnTheirData: the store copies a failed message's bytes, and
// lists failures by sequence, then projection.
func TestFailuresOwnTheirData(t *testing.T) {
	t.Parallel()
	s := memory.New()
	data := []byte("{not json")
	apply(t, s, projections.Batch{
		{Seq: 1, Subject: "userlife.events.a.X", Data: data, Err: errors.New("undecodable")},
		{Seq: 2, Subject: "userlife.events.b.Y", Data: data, Err: errors.New("undecodable")},
	})
	copy(data, "XXXXXXXXX")
	fails, err := s.Failures(t.Context())
	if err != nil {
		t.Fatalf("Failures: %v", err)
	}
	var got []string
	for _, f := range fails {
		got = append(got, fmt.Sprintf("%d/%s/%s", f.Seq, f.Projection, f.Data))
	}
	want := []string{"1/audit/{not json", "1/users/{not json", "2/audit/{not json", "2/users/{not json"}
	if !slices.Equal(got, want) {
		t.Errorf("Failures() = %q, want %q", got, want)
	}
}

func TestGetUserNotFound(t *testing.T) {
	t.Parallel()
	_, err := memory.New().GetUser(t.Context(), "nobody")
	if !errors.Is(err, projections.ErrNotFound) {
		t.Errorf("GetUser(nobody) error = %v, want errors.Is ErrNotFound", err)
	}
}
