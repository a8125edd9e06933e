package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Command names. A command named N is published on "userlife.cmd.N".
const (
	CmdRegisterUser   = "RegisterUser"
	CmdConfirmUser    = "ConfirmUser"
	CmdDisableUser    = "DisableUser"
	CmdEnableUser     = "EnableUser"
	CmdDeleteUser     = "DeleteUser"
	CmdRevokeSessions = "RevokeSessions"
	CmdRevokeSession  = "RevokeSession"
	// CmdRecordDataPurged is sent by a downstream service, not an admin: it
	// reports that the service erased a deleted user's data.
	CmdRecordDataPurged = "RecordDataPurged"
)

// CommandNames lists every command this version of the contract accepts.
func CommandNames() []string {
	return []string{
		CmdRegisterUser, CmdConfirmUser, CmdDisableUser,
		CmdEnableUser, CmdDeleteUser, CmdRevokeSessions, CmdRevokeSession,
		CmdRecordDataPurged,
	}
}

// MaxCommandSize is the largest command payload accepted, in bytes.
const MaxCommandSize = 64 << 10

// MaxReasonLength and MaxActorLength bound free-text fields, in bytes.
const (
	MaxReasonLength = 1024
	MaxActorLength  = 256
)

// Command is an admin request. Every command carries the fields of
// CommandMeta; command_id is optional (the service assigns one) and makes a
// command idempotent: the same command_id never appends twice.
type Command interface {
	CommandName() string
	Meta() *CommandMeta
}

// CommandMeta holds the fields every command has.
type CommandMeta struct {
	CommandID     string `json:"command_id,omitempty"`
	UserID        string `json:"user_id,omitempty"`
	Actor         string `json:"actor"`
	Reason        string `json:"reason,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
}

// Meta returns the common fields; it lets every command satisfy Command.
func (m *CommandMeta) Meta() *CommandMeta { return m }

// RegisterUser creates a pending user. user_id is optional: without it the
// service derives a UUIDv7 from the command.
type RegisterUser struct {
	CommandMeta
	Email string `json:"email"`
}

type ConfirmUser struct{ CommandMeta }
type DisableUser struct{ CommandMeta }
type EnableUser struct{ CommandMeta }
type DeleteUser struct{ CommandMeta }
type RevokeSessions struct{ CommandMeta }

// RevokeSession revokes one session: tokens whose "sid" claim is SessionID.
type RevokeSession struct {
	CommandMeta
	SessionID string `json:"session_id"`
}

// RecordDataPurged is a downstream service's erasure receipt: Service
// (its registered name) removed ItemsRemoved items of the deleted user
// UserID. Only a deleted user's data can be recorded as purged; a service
// is recorded once per user.
type RecordDataPurged struct {
	CommandMeta
	Service      string `json:"service"`
	ItemsRemoved int64  `json:"items_removed"`
}

func (*RecordDataPurged) CommandName() string { return CmdRecordDataPurged }

func (*RegisterUser) CommandName() string   { return CmdRegisterUser }
func (*ConfirmUser) CommandName() string    { return CmdConfirmUser }
func (*DisableUser) CommandName() string    { return CmdDisableUser }
func (*EnableUser) CommandName() string     { return CmdEnableUser }
func (*DeleteUser) CommandName() string     { return CmdDeleteUser }
func (*RevokeSessions) CommandName() string { return CmdRevokeSessions }
func (*RevokeSession) CommandName() string  { return CmdRevokeSession }

// NewCommand returns an empty command for name, or nil if name is unknown.
func NewCommand(name string) Command {
	switch name {
	case CmdRegisterUser:
		return &RegisterUser{}
	case CmdConfirmUser:
		return &ConfirmUser{}
	case CmdDisableUser:
		return &DisableUser{}
	case CmdEnableUser:
		return &EnableUser{}
	case CmdDeleteUser:
		return &DeleteUser{}
	case CmdRevokeSessions:
		return &RevokeSessions{}
	case CmdRevokeSession:
		return &RevokeSession{}
	case CmdRecordDataPurged:
		return &RecordDataPurged{}
	}
	return nil
}

// DecodeCommand reads the JSON command named name. Every failure is a
// *CommandError with a stable code: unknown_command, payload_too_large,
// malformed_command (not a JSON object, wrong types, unknown fields,
// trailing data, invalid UTF-8).
func DecodeCommand(name string, data []byte) (Command, error) {
	cmd := NewCommand(name)
	if cmd == nil {
		return nil, Errorf(CodeUnknownCommand, "unknown command %q; known: %v", name, CommandNames())
	}
	if err := DecodeCommandInto(data, cmd); err != nil {
		return nil, err
	}
	return cmd, nil
}

// DecodeCommandInto is DecodeCommand for a command value the caller made.
func DecodeCommandInto(data []byte, cmd Command) error {
	if len(data) > MaxCommandSize {
		return Errorf(CodePayloadTooLarge, "command is %d bytes; the limit is %d", len(data), MaxCommandSize)
	}
	if !utf8.Valid(data) {
		return Errorf(CodeMalformedCommand, "command is not valid UTF-8")
	}
	// Decode accepts any JSON value; "null" would leave cmd empty without
	// an error, and a command is an object.
	if body := bytes.TrimLeft(data, " \t\r\n"); len(body) > 0 && body[0] != '{' {
		return Errorf(CodeMalformedCommand, "%s: a command is a JSON object", cmd.CommandName())
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cmd); err != nil {
		return Errorf(CodeMalformedCommand, "%s: %s", cmd.CommandName(), describeJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Errorf(CodeMalformedCommand, "%s: unexpected data after the JSON object", cmd.CommandName())
	}
	return nil
}

func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Sprintf("field %q must be a JSON %s, got %s", typeErr.Field, typeErr.Type.Kind(), typeErr.Value)
	}
	var synErr *json.SyntaxError
	if errors.As(err, &synErr) {
		return fmt.Sprintf("not valid JSON at byte %d: %v", synErr.Offset, err)
	}
	if errors.Is(err, io.EOF) {
		return "empty payload; a command is a JSON object"
	}
	return err.Error()
}

// EncodeCommand writes cmd as JSON, the body of a message on
// CommandSubject(cmd.CommandName()).
func EncodeCommand(cmd Command) ([]byte, error) { return json.Marshal(cmd) }
