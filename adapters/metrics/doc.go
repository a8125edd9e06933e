// Package metrics is userlife's health and metrics surface: a Prometheus
// registry (client_golang) with command, append, projection and revocation
// view metrics, served at /metrics, and the /readyz handler that runs named
// readiness checks. It knows nothing of NATS or PostgreSQL: cmd wires the
// sources (stream head, checkpoints, checks) in as small functions.
package metrics
