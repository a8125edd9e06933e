package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unsafe"
)

// Event is one decoded lifecycle event: the envelope plus its typed payload.
type Event struct {
	ID            string
	Type          Type
	UserID        string
	OccurredAt    time.Time
	Actor         string
	Reason        string
	CommandID     string
	CorrelationID string
	Data          Payload

	// Seq is the event's sequence in the event stream (the user's version
	// after this event). It is not part of the JSON; readers fill it from the
	// stream metadata. Zero for an event not yet stored.
	Seq uint64
}

// Errors returned by Decode. Match them with errors.Is.
var (
	ErrMalformedEvent   = errors.New("malformed event")
	ErrUnknownEventType = errors.New("unknown event type")
)

// Encode writes e as its JSON envelope.
func Encode(e Event) ([]byte, error) {
	if e.Data == nil {
		return nil, fmt.Errorf("event %s: no payload", e.Type)
	}
	if e.Data.EventType() != e.Type {
		return nil, fmt.Errorf("event type %s carries a %s payload", e.Type, e.Data.EventType())
	}
	p := utcPayload(e.Data)
	env := RawEnvelope{
		ID: e.ID, Type: e.Type, UserID: e.UserID, OccurredAt: e.OccurredAt.UTC(),
		Actor: e.Actor, Reason: e.Reason, CommandID: e.CommandID,
		CorrelationID: e.CorrelationID,
	}
	if b, ok := appendEvent(make([]byte, 0, 384), env, p); ok {
		return b, nil
	}
	return encodeJSON(env, p)
}

// encodeJSON is Encode by encoding/json alone: the reference the direct
// writer is checked against.
func encodeJSON(env RawEnvelope, p Payload) ([]byte, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", env.Type, err)
	}
	env.Data = data
	return json.Marshal(env)
}

// Decode reads a JSON envelope. Unknown envelope or payload fields are
// ignored (the contract only ever adds fields); an unknown type is
// ErrUnknownEventType, anything unreadable ErrMalformedEvent. Times come
// back in UTC. The event shares no memory with b, and each of its strings
// holds just its own bytes (long-lived maps keyed by user id keep no more
// than the id).
func Decode(b []byte) (Event, error) { return decode(b, true) }

// decode is Decode; fast=false takes encoding/json for all of it, the
// reference the reflection-free readers are checked against.
func decode(b []byte, fast bool) (Event, error) {
	var env RawEnvelope
	if !fast || len(b) == 0 || !readEnvelopeFast(b, unsafe.String(&b[0], len(b)), &env) {
		fast = false
		env = RawEnvelope{}
		if err := json.Unmarshal(b, &env); err != nil {
			return Event{}, fmt.Errorf("%w: %v", ErrMalformedEvent, err)
		}
	}
	if env.Type == "" {
		return Event{}, fmt.Errorf("%w: no type", ErrMalformedEvent)
	}
	if !ValidID(env.UserID) {
		return Event{}, fmt.Errorf("%w: invalid user_id %q", ErrMalformedEvent, env.UserID)
	}
	known := slices.Index(knownTypes, env.Type)
	if known < 0 {
		return Event{}, fmt.Errorf("%w: %q", ErrUnknownEventType, env.Type)
	}
	data := bytes.TrimSpace(env.Data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return Event{}, fmt.Errorf("%w: %s has no data", ErrMalformedEvent, env.Type)
	}
	var payload Payload
	ok := false
	if fast {
		// The fast readers' strings are views of b: the event gets copies.
		env.Type = knownTypes[known]
		env.ID, env.UserID, env.Actor = strings.Clone(env.ID), strings.Clone(env.UserID), strings.Clone(env.Actor)
		env.Reason, env.CommandID = strings.Clone(env.Reason), strings.Clone(env.CommandID)
		env.CorrelationID = strings.Clone(env.CorrelationID)
		payload, ok = readPayloadFast(env.Type, data, unsafe.String(&data[0], len(data)))
		if ok {
			payload = clonePayload(payload)
		}
	}
	if !ok {
		p := newPayload(env.Type)
		if err := json.Unmarshal(data, p); err != nil {
			return Event{}, fmt.Errorf("%w: %s data: %v", ErrMalformedEvent, env.Type, err)
		}
		payload = deref(p)
	}
	e := Event{
		ID: env.ID, Type: env.Type, UserID: env.UserID, OccurredAt: env.OccurredAt.UTC(),
		Actor: env.Actor, Reason: env.Reason, CommandID: env.CommandID,
		CorrelationID: env.CorrelationID, Data: utcPayload(payload),
	}
	// Times are written in UTC. An offset can carry an instant whose UTC
	// year is outside RFC 3339's 0000-9999 (e.g. 9999-12-31T23:00:00-05:00):
	// it would decode but never encode again.
	rb, _ := e.RevokedBefore()
	for _, t := range []time.Time{e.OccurredAt, rb} {
		if y := t.Year(); y < 0 || y > 9999 {
			return Event{}, fmt.Errorf("%w: %s: time %s is outside years 0000-9999 in UTC", ErrMalformedEvent, env.Type, t)
		}
	}
	return e, nil
}

// clonePayload gives p's strings their own memory.
func clonePayload(p Payload) Payload {
	switch v := p.(type) {
	case UserRegistered:
		v.Email, v.EmailSealed = strings.Clone(v.Email), strings.Clone(v.EmailSealed)
		return v
	case SessionRevoked:
		v.SessionID = strings.Clone(v.SessionID)
		return v
	case UserDataPurged:
		v.Service = strings.Clone(v.Service)
		return v
	}
	return p
}

// utcPayload returns p with its times in UTC, the form on the wire.
func utcPayload(p Payload) Payload {
	switch v := p.(type) {
	case UserDisabled:
		v.RevokedBefore = v.RevokedBefore.UTC()
		return v
	case UserDeleted:
		v.RevokedBefore = v.RevokedBefore.UTC()
		return v
	case SessionsRevoked:
		v.RevokedBefore = v.RevokedBefore.UTC()
		return v
	}
	return p
}

// deref turns the pointer newPayload returned into the value type, so
// callers switch on UserDisabled, not *UserDisabled.
func deref(p Payload) Payload {
	switch v := p.(type) {
	case *UserRegistered:
		return *v
	case *UserConfirmed:
		return *v
	case *UserDisabled:
		return *v
	case *UserEnabled:
		return *v
	case *UserDeleted:
		return *v
	case *SessionsRevoked:
		return *v
	case *SessionRevoked:
		return *v
	case *UserDataPurged:
		return *v
	}
	return p
}

// RevokedBefore returns the revocation instant an event carries, if any.
func (e Event) RevokedBefore() (time.Time, bool) {
	switch d := e.Data.(type) {
	case UserDisabled:
		return d.RevokedBefore, true
	case UserDeleted:
		return d.RevokedBefore, true
	case SessionsRevoked:
		return d.RevokedBefore, true
	}
	return time.Time{}, false
}
