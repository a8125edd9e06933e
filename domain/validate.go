package domain

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/userlife/userlife/events"
)

// MaxEmailLength follows RFC 5321's path limit.
const MaxEmailLength = 254

// Validate checks what every command must carry before it is decided. The
// service fills command_id and (for RegisterUser) user_id before calling it.
func Validate(cmd events.Command) error {
	m := cmd.Meta()
	if !events.ValidID(m.CommandID) {
		return events.Errorf(events.CodeInvalidCommandID, "command_id %q must be 1-64 characters of [A-Za-z0-9_-]", m.CommandID)
	}
	if m.UserID == "" {
		return events.Errorf(events.CodeInvalidUserID, "user_id is required")
	}
	if !events.ValidID(m.UserID) {
		return events.Errorf(events.CodeInvalidUserID, "user_id %q must be 1-64 characters of [A-Za-z0-9_-] (no '.', '*', '>' or spaces)", m.UserID)
	}
	if strings.TrimSpace(m.Actor) == "" {
		return events.Errorf(events.CodeInvalidField, "actor is required: who is doing this")
	}
	if len(m.Actor) > events.MaxActorLength {
		return events.Errorf(events.CodeInvalidField, "actor is %d bytes; the limit is %d", len(m.Actor), events.MaxActorLength)
	}
	if len(m.Reason) > events.MaxReasonLength {
		return events.Errorf(events.CodeInvalidField, "reason is %d bytes; the limit is %d", len(m.Reason), events.MaxReasonLength)
	}
	if len(m.CorrelationID) > 128 {
		return events.Errorf(events.CodeInvalidField, "correlation_id is %d bytes; the limit is 128", len(m.CorrelationID))
	}
	switch c := cmd.(type) {
	case *events.RegisterUser:
		return ValidateEmail(c.Email)
	case *events.RevokeSession:
		return ValidateSessionID(c.SessionID)
	case *events.RecordDataPurged:
		if err := ValidateServiceName(c.Service); err != nil {
			return err
		}
		if c.ItemsRemoved < 0 {
			return events.Errorf(events.CodeInvalidField, "items_removed is %d; it counts what was removed, 0 or more", c.ItemsRemoved)
		}
	}
	return nil
}

// ValidateServiceName accepts the name of a downstream data service: 1 to
// 64 characters of [A-Za-z0-9_-], a single NATS subject token and KV key,
// like a user id.
func ValidateServiceName(name string) error {
	if name == "" {
		return events.Errorf(events.CodeInvalidField, "service is required: the name the data service registered under")
	}
	if !events.ValidID(name) {
		return events.Errorf(events.CodeInvalidField, "service %q must be 1-64 characters of [A-Za-z0-9_-]", name)
	}
	return nil
}

// ValidateEmail accepts a bare address (no display name), at most 254 bytes.
func ValidateEmail(email string) error {
	if email == "" {
		return events.Errorf(events.CodeInvalidEmail, "email is required")
	}
	if len(email) > MaxEmailLength || !utf8.ValidString(email) {
		return events.Errorf(events.CodeInvalidEmail, "email must be at most %d bytes of UTF-8", MaxEmailLength)
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" {
		return events.Errorf(events.CodeInvalidEmail, "%q is not a plain email address", email)
	}
	return nil
}

// MaxSessionIDLength bounds a session id (a token's "sid" claim).
const MaxSessionIDLength = 128

// ValidateSessionID accepts 1 to 128 printable ASCII characters without
// spaces: what identity providers put in "sid".
func ValidateSessionID(sid string) error {
	if sid == "" {
		return events.Errorf(events.CodeInvalidField, "session_id is required")
	}
	if len(sid) > MaxSessionIDLength {
		return events.Errorf(events.CodeInvalidField, "session_id is %d bytes; the limit is %d", len(sid), MaxSessionIDLength)
	}
	for i := 0; i < len(sid); i++ {
		if sid[i] <= ' ' || sid[i] > '~' {
			return events.Errorf(events.CodeInvalidField, "session_id %q: only printable ASCII without spaces", sid)
		}
	}
	return nil
}

// NormalizeEmail is the key under which emails are unique: case-insensitive.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }
