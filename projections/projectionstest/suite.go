package projectionstest

import (
	"testing"

	"github.com/userlife/userlife/projections"
)

// Stores is one implementation's projections and queries, fresh and empty.
type Stores struct {
	Users   projections.Projection
	Audit   projections.Projection
	Queries projections.Queries
}

// check is one conformance test, run on fresh stores.
type check struct {
	name string
	run  func(h *harness)
}

// checks is the suite. Each runs as a parallel subtest on its own stores.
var checks = []check{
	{"Empty", checkEmpty},
	{"Names", checkNames},
	{"CheckpointFollowsBatches", checkCheckpointFollows},
	{"EmptyBatch", checkEmptyBatch},
	{"RedeliveryIsIdempotent", checkRedelivery},
	{"GapAppliesNothing", checkGap},
	{"CanceledApplyIsAllOrNothing", checkCanceled},
	{"Lifecycles", checkLifecycles},
	{"DeleteKeepsHistory", checkDeleteKeepsHistory},
	{"ListByState", checkListByState},
	{"ListByEmailPrefix", checkEmailPrefix},
	{"KeysetPagination", checkPagination},
	{"InvalidQuery", checkInvalidQuery},
	{"PoisonDoesNotStall", checkPoison},
	{"PositionsPerProjection", checkPositions},
	{"LargeBatch", checkLargeBatch},
	{"RandomLifecyclesInSmallBatches", randomCheck(1, 600, 7)},
	{"RandomLifecyclesInMediumBatches", randomCheck(2, 1500, 100)},
	{"RandomLifecyclesInLargeBatches", randomCheck(3, 3000, 1000)},
	{"ResultsAreCopies", checkCopies},
}

// Run runs the suite; newStores returns fresh empty stores for each subtest
// (subtests may run in parallel).
func Run(t *testing.T, newStores func(t *testing.T) Stores) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(newHarness(t, newStores(t)))
		})
	}
}
