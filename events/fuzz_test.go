package events_test

import (
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/userlife/userlife/events"
)

// FuzzDecodeCommand: whatever arrives on userlife.cmd.<name>, DecodeCommand
// never panics, refuses with a *CommandError, or returns a command that
// survives EncodeCommand → DecodeCommand unchanged.
func FuzzDecodeCommand(f *testing.F) {
	names := events.CommandNames()
	seeds := []struct {
		name  int
		input string
	}{
		{0, `{"command_id":"c-1","user_id":"u-1","actor":"ops","email":"Ada@Example.com"}`},
		{0, `{"actor":"signup","email":"a@b.c","correlation_id":"k"}`},
		{1, `{"user_id":"u-1","actor":"ops"}`},
		{2, `{"user_id":"u-1","actor":"ops","reason":"abuse <script>&amp;</script>"}`},
		{3, ` {"user_id":"u-1","actor":"ops"} ` + "\n"},
		{4, `{"user_id":"u-1","actor":"ops","reason":"GDPR \u00e9\u2028"}`},
		{5, `{"user_id":"u-1","actor":"ops","reason":"\ud800"}`},
		{6, `{"user_id":"u-1","actor":"ops","session_id":"sid-42"}`},
		{6, `{"user_id":"u-1","actor":"ops","session_id":"s\u00e9 \u0001"}`},
		{7, `{"user_id":"u-1","actor":"todo","service":"todo","items_removed":3}`},
		{7, `{"user_id":"u-1","actor":"todo","service":"todo","items_removed":-1e3}`},
		{7, `{"user_id":"u-1","actor":"todo","service":"todo","items_removed":9223372036854775808}`},
		{2, `{"user_id":5}`},
		{2, `{"user_id":"u-1","force":true}`},
		{2, `{"user_id":"u-1"}{}`},
		{2, "{\"actor\":\"\xff\"}"},
		{2, ``},
		{2, `null`},
		{2, `[]`},
		{2, `{"USER_ID":"u-1","Actor":"ops"}`},
		{2, `{"actor":"a","actor":"b"}`},
	}
	for _, s := range seeds {
		f.Add(uint8(s.name), []byte(s.input))
	}
	f.Fuzz(func(t *testing.T, nameIdx uint8, data []byte) {
		name := names[int(nameIdx)%len(names)]
		cmd, err := events.DecodeCommand(name, data)
		if err != nil {
			var ce *events.CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("DecodeCommand error %v is %T, want *events.CommandError", err, err)
			}
			switch ce.Code {
			case events.CodeMalformedCommand, events.CodePayloadTooLarge:
			default:
				t.Fatalf("DecodeCommand(%s) code %q, want malformed_command or payload_too_large", name, ce.Code)
			}
			if cmd != nil {
				t.Fatalf("DecodeCommand returned %#v and error %v", cmd, err)
			}
			return
		}
		if cmd == nil || cmd.CommandName() != name {
			t.Fatalf("DecodeCommand(%s) = %#v", name, cmd)
		}
		b, err := events.EncodeCommand(cmd)
		if err != nil {
			t.Fatalf("EncodeCommand(%#v): %v", cmd, err)
		}
		again, err := events.DecodeCommand(name, b)
		if err != nil {
			// Re-encoding escapes '<', '>', '&', U+2028 and U+2029 (up to
			// 6 bytes for 1), so a command near the limit may grow past it.
			var ce *events.CommandError
			if len(b) > events.MaxCommandSize && errors.As(err, &ce) && ce.Code == events.CodePayloadTooLarge {
				return
			}
			t.Fatalf("DecodeCommand(EncodeCommand(cmd)) = %v\ninput:     %q\nre-encoded: %q", err, data, b)
		}
		if !reflect.DeepEqual(again, cmd) {
			t.Fatalf("round trip changed the command:\ngot:  %#v\nwant: %#v", again, cmd)
		}
	})
}

// FuzzDecodeEvent: Decode never panics, fails only with ErrMalformedEvent or
// ErrUnknownEventType, and what it reads Encode writes back to an equal
// event, in a canonical form (encoding it again gives the same bytes).
func FuzzDecodeEvent(f *testing.F) {
	for _, typ := range events.Types() {
		b, err := os.ReadFile(goldenPath(typ))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		envelopeJSON,
		`{"id":"e1","type":"UserDisabled","user_id":"u1","occurred_at":"2025-03-14T11:26:53.123+02:00","data":{"revoked_before":"2025-03-14T11:26:53+02:00"},"extra":1}`,
		`{"id":"e1","type":"UserRegistered","user_id":"u1","data":{"email":"<a>&b@example.com","v":[1,2]}}`,
		`{"type":"UserDataPurged","user_id":"u1","data":{"service":"todo","items_removed":-3,"at":"x"}}`,
		`{"type":"UserDataPurged","user_id":"u1","data":{"items_removed":1e2}}`,
		`{"type":"UserRenamed","user_id":"u1","data":{}}`,
		`{"type":"UserConfirmed","user_id":"a.b","data":{}}`,
		`{"type":"UserConfirmed","user_id":"u1","data":null}`,
		`{"type":"UserConfirmed","user_id":"u1"}`,
		`{"type":"UserConfirmed","user_id":"u1","actor":"\ud800\u2028","data":{}}`,
		`{"type":"UserConfirmed","user_id":"u1","occurred_at":"9999-12-31T23:59:59-01:00","data":{}}`,
		`[]`, `null`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := events.Decode(data)
		if err != nil {
			if !errors.Is(err, events.ErrMalformedEvent) && !errors.Is(err, events.ErrUnknownEventType) {
				t.Fatalf("Decode error %v matches neither ErrMalformedEvent nor ErrUnknownEventType", err)
			}
			return
		}
		if !events.ValidID(e.UserID) {
			t.Fatalf("Decode accepted user_id %q", e.UserID)
		}
		b, err := events.Encode(e)
		if err != nil {
			t.Fatalf("Encode(Decode(%q)) = %v", data, err)
		}
		again, err := events.Decode(b)
		if err != nil {
			t.Fatalf("Decode(Encode(e)) = %v\nencoded: %s", err, b)
		}
		// Decode returns times in UTC, so the round trip is exact.
		if !reflect.DeepEqual(again, e) {
			t.Fatalf("round trip changed the event:\ngot:  %#v\nwant: %#v", again, e)
		}
		b2, err := events.Encode(again)
		if err != nil {
			t.Fatal(err)
		}
		if string(b2) != string(b) {
			t.Fatalf("encoding is not canonical:\nfirst:  %s\nsecond: %s", b, b2)
		}
	})
}
