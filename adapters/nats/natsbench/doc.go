// Package natsbench measures what NATS itself can do on this machine — a
// synchronous JetStream publish with the expected-subject-sequence header,
// a core request-reply round trip, an ordered-consumer read — so that
// userlife's own figures can be reported next to them, measured in the same
// run. Every loop stops at a count or a time limit, whichever comes first.
package natsbench
