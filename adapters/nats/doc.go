// Package nats is userlife's NATS JetStream adapter: the embedded server,
// stream and KV provisioning with a server-version check, the event store
// (direct batch get to load, expected-subject-sequence to append), the email
// registry, the outcome store and the command client the CLI uses.
package nats
