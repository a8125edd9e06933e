// Package faults is userlife's fault-injection suite. Its tests build the
// real userlife and nats-server binaries, run them (and a private
// PostgreSQL) as separate processes on loopback, drive them with a steady
// command load, inject a fault (SIGKILL of serve, of the NATS server, of a
// cluster node or stream leader; PostgreSQL connections terminated and the
// server restarted; two serves racing on the same users) and prove that
// every command got exactly one outcome, every accepted command exactly one
// event, `userlife verify` passes and the revocation view converged.
// docs/reliability.md reports the figures.
package faults
