// Package memory holds the embedded-default stores of the projections: the
// users and audit read models kept in process memory, rebuilt from the
// event stream at start when no PostgreSQL is configured. Store implements
// projections.Projection (twice: Users and Audit) and projections.Queries,
// and is safe for many readers while one projector per projection writes.
package memory
