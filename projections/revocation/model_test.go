package revocation_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/userlife/userlife/projections/revocation"
)

// refCheck is the rule written out plainly, against an Entry, to compare
// the Checker with.
func refCheck(e revocation.Entry, ok bool, sid string, iat int64) revocation.Reason {
	switch {
	case !ok:
		return revocation.Allowed
	case e.State == revocation.StateDisabled:
		return revocation.ReasonDisabled
	case e.State == revocation.StateDeleted:
		return revocation.ReasonDeleted
	case sid != "" && slices.Contains(e.RevokedSessions, sid):
		return revocation.ReasonSessionRevoked
	case e.RevokedBefore.IsZero():
		return revocation.Allowed
	// A token of second iat was minted in [iat, iat+1): refused unless that
	// whole second lies at or after revoked_before.
	case time.Unix(iat, 0).Before(e.RevokedBefore):
		return revocation.ReasonRevoked
	}
	return revocation.Allowed
}

// TestCheckerMatchesModel applies random updates, one by one and in
// batches, out of order and repeated, to enough users that shards grow,
// and compares every answer with refCheck over a plain map.
func TestCheckerMatchesModel(t *testing.T) {
	t.Parallel()
	const users, updates = 30_000, 120_000
	r := rand.New(rand.NewPCG(7, 11))
	ids := make([]string, users)
	for i := range ids {
		ids[i] = fmt.Sprintf("u-%d", i)
	}
	states := []string{revocation.StatePending, revocation.StateConfirmed, revocation.StateDisabled, revocation.StateDeleted}
	sids := []string{"a", "b", "c", "d"}
	base := t0.Unix()
	random := func(rev uint64) revocation.Entry {
		e := revocation.Entry{UserID: ids[r.IntN(users)], State: states[r.IntN(len(states))], Revision: rev}
		if r.IntN(3) == 0 {
			e.RevokedBefore = time.Unix(base+int64(r.IntN(5)), int64(r.IntN(3))*int64(500*time.Millisecond))
		}
		for _, s := range sids {
			if r.IntN(6) == 0 {
				e.RevokedSessions = append(e.RevokedSessions, s)
			}
		}
		return e
	}

	model := map[string]revocation.Entry{}
	put := func(e revocation.Entry) {
		if old, ok := model[e.UserID]; !ok || e.Revision >= old.Revision {
			model[e.UserID] = e
		}
	}
	c := revocation.NewChecker(revocation.Config{})
	var snapshot []revocation.Entry
	for i := range users / 10 {
		e := random(uint64(i + 1))
		snapshot = append(snapshot, e)
		put(e)
	}
	c.Load(snapshot, uint64(len(snapshot)))

	rev := uint64(len(snapshot))
	for n := 0; n < updates; {
		var batch []revocation.Entry
		for range 1 + r.IntN(4)*r.IntN(20) {
			rev++
			e := random(rev)
			if r.IntN(10) == 0 {
				e.Revision -= uint64(r.IntN(int(rev))) // late or repeated
			}
			batch = append(batch, e)
		}
		if len(batch) == 1 {
			c.Apply(batch[0])
		} else {
			c.ApplyBatch(batch)
		}
		for _, e := range batch {
			put(e)
		}
		n += len(batch)
	}

	for _, id := range ids {
		e, ok := model[id]
		for _, sid := range []string{"", "a", "d", "z"} {
			for iat := base - 1; iat <= base+5; iat++ {
				if got, want := c.Check(id, sid, iat), refCheck(e, ok, sid, iat); got != want {
					t.Fatalf("Check(%s, %q, %d) = %v, want %v; entry %+v", id, sid, iat, got, want, e)
				}
			}
		}
	}
}
