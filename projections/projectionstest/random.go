package projectionstest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/userlife/userlife/projections"
)

// idChars are the characters a user id may hold. Random ids mix cases,
// digits, '-' and '_' so that "ordered by id" is tested as byte order
// (PostgreSQL: COLLATE "C"), not a locale's order.
const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// emailStems start the random emails: mixed case, and LIKE's wildcards, so
// that a prefix match is case-insensitive and literal.
var emailStems = []string{"ann", "Ann", "ANNA", "bob", "Bo_b", "bo%b", "carol", "Dave"}

// population generates the interleaved random lifecycles of many users,
// every event allowed by the domain rules from the user's state.
type population struct {
	s     *stream
	rng   *rand.Rand
	state map[string]string // id → projections.State* or "deleted"
	live  []string          // ids not deleted, in registration order
	gone  []string          // deleted ids, in deletion order
	// receipts holds "<id>/<service>" of every UserDataPurged appended.
	receipts map[string]bool
	emails   int
}

func newPopulation(t *testing.T, seed uint64) *population {
	return &population{s: newStream(t), rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), state: map[string]string{}, receipts: map[string]bool{}}
}

func (p *population) newID() string {
	for {
		b := make([]byte, 4+p.rng.IntN(12))
		for i := range b {
			b[i] = idChars[p.rng.IntN(len(idChars))]
		}
		if _, taken := p.state[string(b)]; !taken {
			return string(b)
		}
	}
}

// register adds a user and returns its id.
func (p *population) register() string {
	id := p.newID()
	p.emails++
	p.s.register(id, fmt.Sprintf("%s.%d@Example.com", emailStems[p.rng.IntN(len(emailStems))], p.emails))
	p.state[id] = projections.StatePending
	p.live = append(p.live, id)
	return id
}

// step appends one random event: a new user, or a transition of a live one.
func (p *population) step() {
	if len(p.live) == 0 || p.rng.IntN(4) == 0 {
		p.register()
		return
	}
	if len(p.gone) > 0 && p.rng.IntN(20) == 0 {
		// A downstream service's receipt for a deleted user.
		// At most one per service and user, as the domain allows.
		id := p.gone[p.rng.IntN(len(p.gone))]
		service := []string{"todo", "billing"}[p.rng.IntN(2)]
		if !p.receipts[id+"/"+service] {
			p.s.purged(id, service, int64(p.rng.IntN(5)))
			p.receipts[id+"/"+service] = true
		}
		return
	}
	i := p.rng.IntN(len(p.live))
	id := p.live[i]
	switch r := p.rng.IntN(10); {
	case r == 0:
		p.s.delete(id)
		p.state[id] = "deleted"
		p.live = slices.Delete(p.live, i, i+1)
		p.gone = append(p.gone, id)
	case r <= 2:
		p.s.revoke(id)
	default:
		switch p.state[id] {
		case projections.StatePending:
			p.s.confirm(id)
			p.state[id] = projections.StateConfirmed
		case projections.StateConfirmed:
			p.s.disable(id)
			p.state[id] = projections.StateDisabled
		case projections.StateDisabled:
			p.s.enable(id)
			p.state[id] = projections.StateConfirmed
		}
	}
}

// randomStream is n messages of random lifecycles.
func randomStream(t *testing.T, seed uint64, n int) *stream {
	p := newPopulation(t, seed)
	for len(p.s.msgs) < n {
		p.step()
	}
	return p.s
}

// applyRandomly applies ms[from:to] to both projections in batches of
// random sizes (1..maxBatch); a quarter of the batches start up to 20
// messages before the checkpoint, as a redelivery would.
func (h *harness) applyRandomly(rng *rand.Rand, ms []projections.Message, from, to, maxBatch int) {
	h.t.Helper()
	next := from // index of the first message not applied
	for next < to {
		start := next
		if next > 0 && rng.IntN(4) == 0 {
			start = max(0, next-1-rng.IntN(20))
		}
		end := min(to, next+1+rng.IntN(maxBatch))
		h.apply(projections.Batch(ms[start:end]))
		next = end
	}
}
