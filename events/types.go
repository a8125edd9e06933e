package events

import (
	"encoding/json"
	"time"
)

// Type names an event. The string values are part of the wire contract and
// never change; they are not derived from Go type names.
type Type string

const (
	TypeUserRegistered  Type = "UserRegistered"
	TypeUserConfirmed   Type = "UserConfirmed"
	TypeUserDisabled    Type = "UserDisabled"
	TypeUserEnabled     Type = "UserEnabled"
	TypeUserDeleted     Type = "UserDeleted"
	TypeSessionsRevoked Type = "SessionsRevoked"
	TypeSessionRevoked  Type = "SessionRevoked"
	TypeUserDataPurged  Type = "UserDataPurged"
)

// Types lists every event type this version of the contract knows, in
// lifecycle order.
func Types() []Type {
	return []Type{
		TypeUserRegistered, TypeUserConfirmed, TypeUserDisabled,
		TypeUserEnabled, TypeUserDeleted, TypeSessionsRevoked, TypeSessionRevoked,
		TypeUserDataPurged,
	}
}

var knownTypes = Types()

// OncePerUser reports whether a user can have at most one event of type t:
// a user is registered once, confirmed once (only a pending user can be, and
// nobody returns to pending) and deleted once (deleted is terminal).
func (t Type) OncePerUser() bool {
	switch t {
	case TypeUserRegistered, TypeUserConfirmed, TypeUserDeleted:
		return true
	}
	return false
}

// Payload is the type-specific part of an event (the envelope's "data").
type Payload interface {
	EventType() Type
}

// UserRegistered: a user exists, pending confirmation. Email is kept as
// given; uniqueness is case-insensitive. In the stream the email is sealed
// (EmailSealed, see SealField): readers holding the user's data key see
// Email, and once the key is destroyed (the user was deleted) Email reads
// Erased. An event carrying both writes only the sealed form.
type UserRegistered struct {
	Email       string `json:"email,omitempty"`
	EmailSealed string `json:"email_sealed,omitempty"`
}

// MarshalJSON never writes the clear email next to the sealed one.
func (d UserRegistered) MarshalJSON() ([]byte, error) {
	type wire UserRegistered
	if d.EmailSealed != "" {
		return json.Marshal(wire{EmailSealed: d.EmailSealed})
	}
	return json.Marshal(wire{Email: d.Email})
}

// UserConfirmed: a pending user confirmed the account.
type UserConfirmed struct{}

// UserDisabled: the user may not sign in, and every token issued before
// RevokedBefore is invalid.
type UserDisabled struct {
	RevokedBefore time.Time `json:"revoked_before"`
}

// UserEnabled: a disabled user may sign in again. Tokens revoked by the
// disable stay revoked.
type UserEnabled struct{}

// UserDeleted: the account is gone for good; its id is never reused and
// every token issued before RevokedBefore is invalid.
type UserDeleted struct {
	RevokedBefore time.Time `json:"revoked_before"`
}

// SessionsRevoked: every token issued before RevokedBefore is invalid; the
// user must authenticate again.
type SessionsRevoked struct {
	RevokedBefore time.Time `json:"revoked_before"`
}

func (UserRegistered) EventType() Type  { return TypeUserRegistered }
func (UserConfirmed) EventType() Type   { return TypeUserConfirmed }
func (UserDisabled) EventType() Type    { return TypeUserDisabled }
func (UserEnabled) EventType() Type     { return TypeUserEnabled }
func (UserDeleted) EventType() Type     { return TypeUserDeleted }
func (SessionsRevoked) EventType() Type { return TypeSessionsRevoked }
func (SessionRevoked) EventType() Type  { return TypeSessionRevoked }

// SessionRevoked: the one session SessionID (a token's "sid" claim) is
// revoked; the user's other sessions go on.
type SessionRevoked struct {
	SessionID string `json:"session_id"`
}

// UserDataPurged: the downstream service Service erased the deleted user's
// data, ItemsRemoved items of it (the service's own unit: rows, files, ...).
// It follows UserDeleted and changes nothing about the user: deleted stays
// deleted. It is the service's erasure receipt, at most one per service.
type UserDataPurged struct {
	Service      string `json:"service"`
	ItemsRemoved int64  `json:"items_removed"`
}

func (UserDataPurged) EventType() Type { return TypeUserDataPurged }

// newPayload returns a zero payload for t, or nil for an unknown type.
func newPayload(t Type) Payload {
	switch t {
	case TypeUserRegistered:
		return &UserRegistered{}
	case TypeUserConfirmed:
		return &UserConfirmed{}
	case TypeUserDisabled:
		return &UserDisabled{}
	case TypeUserEnabled:
		return &UserEnabled{}
	case TypeUserDeleted:
		return &UserDeleted{}
	case TypeSessionsRevoked:
		return &SessionsRevoked{}
	case TypeSessionRevoked:
		return &SessionRevoked{}
	case TypeUserDataPurged:
		return &UserDataPurged{}
	}
	return nil
}
