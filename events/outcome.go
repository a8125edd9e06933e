package events

import (
	"encoding/json"
	"fmt"
)

// Status of a command outcome.
type Status string

const (
	// StatusAccepted: the command changed the user; EventSeq is the event.
	StatusAccepted Status = "accepted"
	// StatusUnchanged: the user already was in the requested state; no event.
	StatusUnchanged Status = "unchanged"
	// StatusRejected: the command was refused; Code and Message say why.
	StatusRejected Status = "rejected"
)

// Rejection codes. They are stable: clients branch on them.
const (
	CodeMalformedCommand    = "malformed_command"    // not JSON, wrong types, unknown fields
	CodeUnknownCommand      = "unknown_command"      // no such command name
	CodePayloadTooLarge     = "payload_too_large"    // over MaxCommandSize
	CodeInvalidCommandID    = "invalid_command_id"   // command_id is not [A-Za-z0-9_-]{1,64}
	CodeInvalidUserID       = "invalid_user_id"      // missing, or not [A-Za-z0-9_-]{1,64}
	CodeInvalidEmail        = "invalid_email"        // missing or not an address
	CodeInvalidField        = "invalid_field"        // actor missing, reason too long, ...
	CodeUnknownUser         = "unknown_user"         // no such user
	CodeUserDeleted         = "user_deleted"         // the user is deleted; nothing more is allowed
	CodeUserExists          = "user_exists"          // RegisterUser with an id in use
	CodeEmailTaken          = "email_taken"          // another live user has this email
	CodeForbiddenTransition = "forbidden_transition" // e.g. disabling a pending user
	CodeConflict            = "conflict"             // too many concurrent writers; retry
	CodeInternal            = "internal_error"       // the service failed; the command is kept in the poison stream
)

// Outcome is what the service publishes on ResultSubject(CommandID) for every
// command it handles.
type Outcome struct {
	CommandID string `json:"command_id"`
	Command   string `json:"command,omitempty"`
	Status    Status `json:"status"`
	Code      string `json:"code,omitempty"`
	Message   string `json:"message,omitempty"`
	UserID    string `json:"user_id,omitempty"`
	EventSeq  uint64 `json:"event_seq,omitempty"`
}

// EncodeOutcome writes o as JSON.
func EncodeOutcome(o Outcome) ([]byte, error) { return json.Marshal(o) }

// DecodeOutcome reads an outcome.
func DecodeOutcome(b []byte) (Outcome, error) {
	var o Outcome
	if err := json.Unmarshal(b, &o); err != nil {
		return Outcome{}, fmt.Errorf("decode outcome: %w", err)
	}
	switch o.Status {
	case StatusAccepted, StatusUnchanged, StatusRejected:
	default:
		return Outcome{}, fmt.Errorf("decode outcome: unknown status %q", o.Status)
	}
	return o, nil
}

// CommandError is a refused command: a stable Code and a human Message.
type CommandError struct {
	Code    string
	Message string
}

func (e *CommandError) Error() string { return e.Code + ": " + e.Message }

// Errorf returns a *CommandError with code and a formatted message.
func Errorf(code, format string, args ...any) *CommandError {
	return &CommandError{Code: code, Message: fmt.Sprintf(format, args...)}
}
