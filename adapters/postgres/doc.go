// Package postgres keeps userlife's projections in PostgreSQL with pgx: the
// users, audit and revocations read models, their checkpoints and failed events, the
// queries over them, embedded schema migrations, and the build-aside-and-swap
// rebuild behind `userlife replay`. Each projection applies a batch of stream
// messages and its new checkpoint in one transaction, so a restart resumes at
// checkpoint+1 with nothing lost and nothing applied twice.
package postgres
