package events_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/userlife/userlife/events"
)

func TestDecodeCommandValid(t *testing.T) {
	t.Parallel()
	meta := events.CommandMeta{CommandID: "c-1", UserID: "u-1", Actor: "ops@example.com", Reason: "ticket 7", CorrelationID: "k-1"}
	const metaJSON = `"command_id":"c-1","user_id":"u-1","actor":"ops@example.com","reason":"ticket 7","correlation_id":"k-1"`
	tests := []struct {
		name  string
		input string
		want  events.Command
	}{
		{events.CmdRegisterUser, `{` + metaJSON + `,"email":"Ada@Example.com"}`, &events.RegisterUser{CommandMeta: meta, Email: "Ada@Example.com"}},
		{events.CmdConfirmUser, `{` + metaJSON + `}`, &events.ConfirmUser{CommandMeta: meta}},
		{events.CmdDisableUser, `{` + metaJSON + `}`, &events.DisableUser{CommandMeta: meta}},
		{events.CmdEnableUser, `{` + metaJSON + `}`, &events.EnableUser{CommandMeta: meta}},
		{events.CmdDeleteUser, `{` + metaJSON + `}`, &events.DeleteUser{CommandMeta: meta}},
		{events.CmdRevokeSessions, `{` + metaJSON + `}`, &events.RevokeSessions{CommandMeta: meta}},
		{events.CmdRevokeSession, `{` + metaJSON + `,"session_id":"sid-42"}`, &events.RevokeSession{CommandMeta: meta, SessionID: "sid-42"}},
		{events.CmdRecordDataPurged, `{` + metaJSON + `,"service":"todo","items_removed":3}`,
			&events.RecordDataPurged{CommandMeta: meta, Service: "todo", ItemsRemoved: 3}},
	}
	if got, want := len(tests), len(events.CommandNames()); got != want {
		t.Fatalf("%d cases, want one per command name (%d)", got, want)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := events.DecodeCommand(tt.name, []byte(tt.input))
			if err != nil {
				t.Fatalf("DecodeCommand(%s): %v", tt.name, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DecodeCommand(%s):\ngot:  %#v\nwant: %#v", tt.name, got, tt.want)
			}
			if got.CommandName() != tt.name {
				t.Errorf("CommandName() = %q, want %q", got.CommandName(), tt.name)
			}
			// What EncodeCommand writes, DecodeCommand reads back.
			b, err := events.EncodeCommand(got)
			if err != nil {
				t.Fatalf("EncodeCommand: %v", err)
			}
			again, err := events.DecodeCommand(tt.name, b)
			if err != nil {
				t.Fatalf("DecodeCommand(EncodeCommand(cmd)) = %v; encoded %s", err, b)
			}
			if !reflect.DeepEqual(again, tt.want) {
				t.Errorf("round trip:\ngot:  %#v\nwant: %#v", again, tt.want)
			}
		})
	}
}

// TestDecodeCommandMinimal is what a plain `nats pub` sends: no command_id,
// only the fields a human types.
func TestDecodeCommandMinimal(t *testing.T) {
	t.Parallel()
	got, err := events.DecodeCommand(events.CmdDisableUser, []byte(" {\"user_id\": \"u-1\", \"actor\": \"ops\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := &events.DisableUser{CommandMeta: events.CommandMeta{UserID: "u-1", Actor: "ops"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func TestDecodeCommandRejects(t *testing.T) {
	t.Parallel()
	big := `{"user_id":"u-1","actor":"ops","reason":"` + strings.Repeat("x", events.MaxCommandSize) + `"}`
	tests := []struct {
		name     string
		command  string
		input    string
		wantCode string
	}{
		{"unknown command name", "RenameUser", `{"user_id":"u-1","actor":"ops"}`, events.CodeUnknownCommand},
		{"empty command name", "", `{"user_id":"u-1","actor":"ops"}`, events.CodeUnknownCommand},
		{"command name in wrong case", "disableuser", `{"user_id":"u-1","actor":"ops"}`, events.CodeUnknownCommand},
		{"over 64 KiB", events.CmdDisableUser, big, events.CodePayloadTooLarge},
		{"not JSON", events.CmdDisableUser, `disable u-1 please`, events.CodeMalformedCommand},
		{"truncated JSON", events.CmdDisableUser, `{"user_id":"u-1",`, events.CodeMalformedCommand},
		{"user_id is a number", events.CmdDisableUser, `{"user_id": 5, "actor":"ops"}`, events.CodeMalformedCommand},
		{"email is an object", events.CmdRegisterUser, `{"user_id":"u-1","actor":"ops","email":{}}`, events.CodeMalformedCommand},
		{"session_id is a number", events.CmdRevokeSession, `{"user_id":"u-1","actor":"ops","session_id":7}`, events.CodeMalformedCommand},
		{"session_id on another command", events.CmdRevokeSessions, `{"user_id":"u-1","actor":"ops","session_id":"s1"}`, events.CodeMalformedCommand},
		{"items_removed is a string", events.CmdRecordDataPurged, `{"user_id":"u-1","actor":"todo","service":"todo","items_removed":"3"}`, events.CodeMalformedCommand},
		{"items_removed is a fraction", events.CmdRecordDataPurged, `{"user_id":"u-1","actor":"todo","service":"todo","items_removed":1.5}`, events.CodeMalformedCommand},
		{"service is a number", events.CmdRecordDataPurged, `{"user_id":"u-1","actor":"todo","service":7}`, events.CodeMalformedCommand},
		{"misspelled items_removed", events.CmdRecordDataPurged, `{"user_id":"u-1","actor":"todo","service":"todo","items":3}`, events.CodeMalformedCommand},
		{"unknown field", events.CmdDisableUser, `{"user_id":"u-1","actor":"ops","force":true}`, events.CodeMalformedCommand},
		{"field of another command", events.CmdDisableUser, `{"user_id":"u-1","actor":"ops","email":"a@example.com"}`, events.CodeMalformedCommand},
		{"trailing object", events.CmdDisableUser, `{"user_id":"u-1","actor":"ops"}{"user_id":"u-2"}`, events.CodeMalformedCommand},
		{"trailing garbage", events.CmdDisableUser, `{"user_id":"u-1","actor":"ops"} x`, events.CodeMalformedCommand},
		{"trailing brace", events.CmdDisableUser, `{"user_id":"u-1","actor":"ops"}}`, events.CodeMalformedCommand},
		{"invalid UTF-8", events.CmdDisableUser, "{\"user_id\":\"u-1\",\"actor\":\"op\xff\"}", events.CodeMalformedCommand},
		{"empty payload", events.CmdDisableUser, ``, events.CodeMalformedCommand},
		{"only whitespace", events.CmdDisableUser, " \n\t", events.CodeMalformedCommand},
		{"JSON null", events.CmdDisableUser, `null`, events.CodeMalformedCommand},
		{"JSON array", events.CmdDisableUser, `[{"user_id":"u-1"}]`, events.CodeMalformedCommand},
		{"JSON string", events.CmdDisableUser, `"u-1"`, events.CodeMalformedCommand},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd, err := events.DecodeCommand(tt.command, []byte(tt.input))
			var ce *events.CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("DecodeCommand error = %v (%T), want a *events.CommandError", err, err)
			}
			if ce.Code != tt.wantCode {
				t.Errorf("code = %q, want %q (message %q)", ce.Code, tt.wantCode, ce.Message)
			}
			if ce.Message == "" {
				t.Error("empty message: a rejected client needs to know why")
			}
			if cmd != nil {
				t.Errorf("command = %#v with an error, want nil", cmd)
			}
		})
	}
}

func TestDecodeCommandSizeLimitIsInclusive(t *testing.T) {
	t.Parallel()
	prefix, suffix := `{"actor":"ops","reason":"`, `"}`
	input := prefix + strings.Repeat("x", events.MaxCommandSize-len(prefix)-len(suffix)) + suffix
	if got, want := len(input), events.MaxCommandSize; got != want {
		t.Fatalf("test input is %d bytes, want %d", got, want)
	}
	if _, err := events.DecodeCommand(events.CmdDeleteUser, []byte(input)); err != nil {
		t.Errorf("a command of exactly MaxCommandSize bytes: %v, want accepted", err)
	}
}

func TestNewCommand(t *testing.T) {
	t.Parallel()
	for _, name := range events.CommandNames() {
		cmd := events.NewCommand(name)
		if cmd == nil {
			t.Errorf("NewCommand(%q) = nil", name)
			continue
		}
		if got := cmd.CommandName(); got != name {
			t.Errorf("NewCommand(%q).CommandName() = %q", name, got)
		}
		if cmd.Meta() == nil {
			t.Errorf("NewCommand(%q).Meta() = nil", name)
		}
	}
	if cmd := events.NewCommand("Nope"); cmd != nil {
		t.Errorf("NewCommand(unknown) = %#v, want nil", cmd)
	}
}

func TestCommandErrorMessage(t *testing.T) {
	t.Parallel()
	err := events.Errorf(events.CodeEmailTaken, "email %s is used", "a@example.com")
	if got, want := err.Error(), "email_taken: email a@example.com is used"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
