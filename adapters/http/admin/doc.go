// Package admin is userlife's authenticated JSON admin API under /v1: users
// by state, a user's history, the lifecycle commands and their outcomes,
// and console sign-in. Mutations go through the command queue like every
// other client's; the package sees the queue and the projections only
// through the small interfaces of Config, so the NATS wiring stays in cmd.
package admin
