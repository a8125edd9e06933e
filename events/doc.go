// Package events is userlife's published language: the names and payloads of
// lifecycle events and commands, the JSON envelope, the NATS subjects they
// travel on and the codec that reads and writes them.
//
// It depends on the standard library only, so any Go service can import it to
// publish commands or consume events. Events are a contract: fields are only
// ever added; a change of meaning is a new event type.
package events
