package projections_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/userlife/userlife/projections"
)

// seqs is a batch of undecoded messages at the given sequences; After looks
// at sequences only.
func seqs(ss ...uint64) projections.Batch {
	b := make(projections.Batch, len(ss))
	for i, s := range ss {
		b[i] = projections.Message{Seq: s}
	}
	return b
}

func seqsOf(b projections.Batch) []uint64 {
	out := []uint64{}
	for _, m := range b {
		out = append(out, m.Seq)
	}
	return out
}

func TestBatchAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		batch      projections.Batch
		checkpoint uint64
		want       []uint64
	}{
		{"empty", nil, 0, []uint64{}},
		{"first batch", seqs(1, 2, 3), 0, []uint64{1, 2, 3}},
		{"follows the checkpoint", seqs(6, 7), 5, []uint64{6, 7}},
		{"redelivered in full", seqs(3, 4, 5), 5, []uint64{}},
		{"overlaps the checkpoint", seqs(4, 5, 6, 7), 5, []uint64{6, 7}},
		{"checkpoint ahead of the batch", seqs(1, 2), 9, []uint64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.batch.After(tt.checkpoint)
			if err != nil {
				t.Fatalf("After(%d): %v", tt.checkpoint, err)
			}
			if !slices.Equal(seqsOf(got), tt.want) {
				t.Errorf("After(%d) = %v, want %v", tt.checkpoint, seqsOf(got), tt.want)
			}
		})
	}
}

func TestBatchAfterGap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		batch      projections.Batch
		checkpoint uint64
		first      uint64
	}{
		{"first batch not at 1", seqs(2, 3), 0, 2},
		{"one missing", seqs(7, 8), 5, 7},
		{"gap after the redelivered part", seqs(4, 5, 8), 5, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.batch.After(tt.checkpoint)
			if !errors.Is(err, projections.ErrGap) {
				t.Fatalf("After(%d) error = %v, want errors.Is ErrGap", tt.checkpoint, err)
			}
			if got != nil {
				t.Errorf("After(%d) batch = %v, want nil with the error", tt.checkpoint, seqsOf(got))
			}
			var gap *projections.GapError
			if !errors.As(err, &gap) {
				t.Fatalf("After(%d) error %T is not a *GapError", tt.checkpoint, err)
			}
			if gap.Checkpoint != tt.checkpoint || gap.First != tt.first {
				t.Errorf("GapError = {Checkpoint: %d, First: %d}, want {%d, %d}", gap.Checkpoint, gap.First, tt.checkpoint, tt.first)
			}
			if gap.Error() == "" {
				t.Error("GapError.Error() is empty")
			}
		})
	}
}

func TestBatchLast(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		b    projections.Batch
		want uint64
	}{{nil, 0}, {seqs(4), 4}, {seqs(4, 5, 6), 6}} {
		if got := tt.b.Last(); got != tt.want {
			t.Errorf("Batch%v.Last() = %d, want %d", seqsOf(tt.b), got, tt.want)
		}
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	if got, want := projections.Names(), []string{projections.Users, projections.Audit}; !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
}

func TestListQueryNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   projections.ListQuery
		want projections.ListQuery
	}{
		{projections.ListQuery{}, projections.ListQuery{Limit: 50}},
		{projections.ListQuery{Limit: -3}, projections.ListQuery{Limit: 50}},
		{projections.ListQuery{Limit: 1}, projections.ListQuery{Limit: 1}},
		{projections.ListQuery{Limit: 1000}, projections.ListQuery{Limit: 1000}},
		{projections.ListQuery{Limit: 1001}, projections.ListQuery{Limit: 1000}},
		{projections.ListQuery{State: projections.StatePending, EmailPrefix: "ANN", After: "u-9", Limit: 7},
			projections.ListQuery{State: projections.StatePending, EmailPrefix: "ANN", After: "u-9", Limit: 7}},
		{projections.ListQuery{State: projections.StateConfirmed}, projections.ListQuery{State: projections.StateConfirmed, Limit: 50}},
		{projections.ListQuery{State: projections.StateDisabled}, projections.ListQuery{State: projections.StateDisabled, Limit: 50}},
	}
	for _, tt := range tests {
		got, err := tt.in.Normalize()
		if err != nil || got != tt.want {
			t.Errorf("%+v.Normalize() = %+v, %v; want %+v, nil", tt.in, got, err, tt.want)
		}
	}
	for _, state := range []string{"deleted", "Pending", "active", " pending"} {
		if _, err := (projections.ListQuery{State: state}).Normalize(); err == nil {
			t.Errorf("ListQuery{State: %q}.Normalize() error = nil, want an error", state)
		}
	}
}
