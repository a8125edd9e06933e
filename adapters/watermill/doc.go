// Package watermill is userlife's command intake: a Watermill CQRS
// CommandProcessor over watermill-nats on the JetStream work-queue stream
// USERLIFE_CMD, one subject and one durable consumer per command type, with
// manual acks, retries on write conflicts only, outcomes for every command
// and a poison stream for commands that cannot be handled. Stopping drains:
// commands already delivered are finished and acked, the rest stay queued.
package watermill
