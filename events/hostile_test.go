package events_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/userlife/userlife/events"
)

// nested returns depth opening brackets, a value and the closing ones.
func nested(depth int) string {
	return strings.Repeat("[", depth) + "1" + strings.Repeat("]", depth)
}

// Deep nesting within the size limit is refused as malformed, in a field
// the command has and in one it does not, and does not exhaust the stack.
func TestDecodeCommandDeeplyNested(t *testing.T) {
	t.Parallel()
	for name, input := range map[string]string{
		"in a known field":    `{"user_id":"u-1","actor":"ops","reason":` + nested(30000) + `}`,
		"in an unknown field": `{"user_id":"u-1","actor":"ops","x":` + nested(30000) + `}`,
		"objects":             strings.Repeat(`{"a":`, 10500) + `1` + strings.Repeat(`}`, 10500),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if len(input) > events.MaxCommandSize {
				t.Fatalf("input is %d bytes, over the size limit: it would test the limit instead", len(input))
			}
			_, err := events.DecodeCommand(events.CmdDisableUser, []byte(input))
			var ce *events.CommandError
			if !errors.As(err, &ce) || ce.Code != events.CodeMalformedCommand {
				t.Fatalf("got %v, want a %s error", err, events.CodeMalformedCommand)
			}
		})
	}
}

// An event (read back from the stream, where only the service writes, but
// a message on an event subject may come from elsewhere) nested deeply in
// any field is malformed; invalid UTF-8 in its strings is replaced, never
// passed on.
func TestDecodeEventHostile(t *testing.T) {
	t.Parallel()
	deep := `{"id":"e1","type":"UserConfirmed","user_id":"u1","actor":"ops","x":` + nested(20000) + `,"data":{}}`
	if _, err := events.Decode([]byte(deep)); !errors.Is(err, events.ErrMalformedEvent) {
		t.Errorf("deeply nested event: %v, want ErrMalformedEvent", err)
	}
	deepData := `{"id":"e1","type":"UserConfirmed","user_id":"u1","actor":"ops","data":{"x":` + nested(20000) + `}}`
	if _, err := events.Decode([]byte(deepData)); !errors.Is(err, events.ErrMalformedEvent) {
		t.Errorf("deeply nested data: %v, want ErrMalformedEvent", err)
	}
	bad := "{\"id\":\"e1\",\"type\":\"UserDisabled\",\"user_id\":\"u1\",\"actor\":\"op\xff\",\"reason\":\"r\xc3\",\"command_id\":\"c1\",\"data\":{\"revoked_before\":\"2025-03-14T09:26:53Z\"}}"
	e, err := events.Decode([]byte(bad))
	if err != nil {
		t.Fatalf("event with invalid UTF-8 in actor and reason: %v", err)
	}
	if !utf8.ValidString(e.Actor) || !utf8.ValidString(e.Reason) {
		t.Errorf("decoded actor %q reason %q: want valid UTF-8", e.Actor, e.Reason)
	}
}
