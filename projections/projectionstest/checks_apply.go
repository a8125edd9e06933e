package projectionstest

import (
	"context"
	"errors"
	"math/rand/v2"

	"github.com/userlife/userlife/projections"
)

func checkEmpty(h *harness) {
	h.matchesFold(nil)
	if page := h.list(projections.ListQuery{}); len(page.Users) != 0 || page.Next != "" {
		h.t.Errorf("ListUsers on empty stores = %+v, want no users and no Next", page)
	}
	if _, found := h.get("nobody"); found {
		h.t.Error("GetUser(nobody) found a user in empty stores")
	}
	if rows := h.history("nobody"); len(rows) != 0 {
		h.t.Errorf("History(nobody) = %+v, want no rows", rows)
	}
}

func checkNames(h *harness) {
	if got := h.Users.Name(); got != projections.Users {
		h.t.Errorf("Users.Name() = %q, want %q", got, projections.Users)
	}
	if got := h.Audit.Name(); got != projections.Audit {
		h.t.Errorf("Audit.Name() = %q, want %q", got, projections.Audit)
	}
}

func checkCheckpointFollows(h *harness) {
	s := newStream(h.t)
	s.register("u1", "a@x.com")
	s.confirm("u1")
	s.register("u2", "b@x.com")
	s.revoke("u1")
	s.disable("u1")
	h.apply(s.span(1, 1))
	h.matchesFold(s.msgs[:1])
	h.apply(s.span(2, 4))
	h.matchesFold(s.msgs[:4])
	h.apply(s.span(5, 5))
	h.matchesFold(s.msgs)
}

func checkEmptyBatch(h *harness) {
	s := newStream(h.t)
	s.register("u1", "a@x.com")
	h.apply(nil)
	h.apply(projections.Batch{})
	h.matchesFold(nil)
	h.apply(s.all())
	h.apply(nil)
	h.matchesFold(s.msgs)
}

// checkRedelivery: a batch overlapping what is applied skips the applied
// part; a batch entirely below the checkpoint changes nothing.
func checkRedelivery(h *harness) {
	s := newStream(h.t)
	for _, id := range []string{"u1", "u2", "u3"} {
		s.register(id, id+"@x.com")
		s.confirm(id)
	}
	s.disable("u1")
	s.revoke("u2")
	s.delete("u3")
	s.enable("u1")
	h.apply(s.span(1, 6))
	h.apply(s.span(4, 9))
	h.matchesFold(s.msgs[:9])
	h.apply(s.span(1, 9))
	h.apply(s.span(2, 3))
	h.matchesFold(s.msgs[:9])
	h.apply(s.span(9, 10))
	h.matchesFold(s.msgs)
}

// checkGap: a batch that starts after checkpoint+1 is refused whole.
func checkGap(h *harness) {
	s := newStream(h.t)
	for _, id := range []string{"u1", "u2", "u3", "u4"} {
		s.register(id, id+"@x.com")
	}
	for _, p := range h.projections() {
		requireGap(h, p, s.span(2, 3), 0, 2)
	}
	h.matchesFold(nil)
	h.apply(s.span(1, 2))
	for _, p := range h.projections() {
		requireGap(h, p, s.span(4, 4), 2, 4)
	}
	h.matchesFold(s.msgs[:2])
}

func requireGap(h *harness, p projections.Projection, b projections.Batch, checkpoint, first uint64) {
	h.t.Helper()
	err := p.Apply(h.ctx, b)
	if !errors.Is(err, projections.ErrGap) {
		h.t.Fatalf("%s.Apply(seqs %d..%d) at checkpoint %d = %v, want errors.Is ErrGap", p.Name(), b[0].Seq, b.Last(), checkpoint, err)
	}
	var gap *projections.GapError
	if errors.As(err, &gap) && (gap.Checkpoint != checkpoint || gap.First != first) {
		h.t.Errorf("%s.Apply: GapError{Checkpoint: %d, First: %d}, want {%d, %d}", p.Name(), gap.Checkpoint, gap.First, checkpoint, first)
	}
}

// checkCanceled: Apply under a canceled context may refuse, but then it
// applies nothing.
func checkCanceled(h *harness) {
	s := newStream(h.t)
	s.register("u1", "a@x.com")
	h.apply(s.all())
	s.confirm("u1")
	s.register("u2", "b@x.com")
	ctx, cancel := context.WithCancel(h.ctx)
	cancel()
	refused := false
	for _, p := range h.projections() {
		if err := p.Apply(ctx, s.span(2, 3)); err != nil {
			refused = true
		}
	}
	if refused {
		h.matchesFold(s.msgs[:1])
		h.apply(s.span(2, 3))
	}
	h.matchesFold(s.msgs)
}

func checkLargeBatch(h *harness) {
	s := randomStream(h.t, 5000, 5000)
	h.apply(s.all())
	h.matchesFold(s.msgs)
}

// randomCheck applies n messages of random lifecycles in random batches
// of up to maxBatch, with redeliveries, and compares the stores with the
// fold halfway and at the end.
func randomCheck(seed uint64, n, maxBatch int) func(h *harness) {
	return func(h *harness) {
		h.t.Logf("seed %d, %d messages, batches of 1..%d", seed, n, maxBatch)
		s := randomStream(h.t, seed, n)
		rng := rand.New(rand.NewPCG(seed, 7))
		half := n / 2
		h.applyRandomly(rng, s.msgs, 0, half, maxBatch)
		h.matchesFold(s.msgs[:half])
		h.applyRandomly(rng, s.msgs, half, n, maxBatch)
		h.matchesFold(s.msgs)
	}
}
