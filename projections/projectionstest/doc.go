// Package projectionstest is the conformance suite every store of the
// projections ports (memory, PostgreSQL) runs: Run applies batches of real
// encoded-then-decoded events through Projection.Apply and checks Queries
// against the in-memory fold (projections.UsersTable and AuditLog) of the
// same messages.
package projectionstest
