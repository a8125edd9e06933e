// Package domain holds the User aggregate as a decider: Decide turns a
// command and the user's current state into events (or a refusal), Evolve
// folds events into state. Neither does I/O; the clock and the id source are
// injected. Service runs load → decide → append against the ports defined
// here, which adapters implement.
package domain
