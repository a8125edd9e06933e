// Package projections holds userlife's read models and the pure reducers
// that build them from events: one table per projection from event type to
// function, no I/O. It also defines the ports the stores implement
// (Projection to apply batches with their checkpoint, Queries to read) so a
// memory and a PostgreSQL store can be swapped and tested by one suite.
package projections
