package admin

import (
	"net/http"
	"testing"

	"github.com/userlife/userlife/events"
)

// The status table is the one of the API contract; every rejection code
// a command outcome can carry has a status.
func TestStatusTable(t *testing.T) {
	t.Parallel()
	want := map[int][]string{
		400: {"invalid_json", "unknown_field", "malformed_command", "invalid_command_id", "invalid_user_id", "invalid_email", "invalid_field", "invalid_query", "unknown_command"},
		401: {"unauthorized"},
		403: {"forbidden", "csrf_token_invalid"},
		404: {"unknown_user", "not_found"},
		405: {"method_not_allowed"},
		409: {"user_exists", "email_taken", "forbidden_transition", "conflict", "user_deleted"},
		413: {"payload_too_large"},
		415: {"unsupported_media_type"},
		429: {"too_many_requests"},
		500: {"internal_error"},
		503: {"unavailable"},
	}
	n := 0
	for status, codes := range want {
		for _, c := range codes {
			n++
			if got := StatusOf(c); got != status {
				t.Errorf("%s: %d, want %d", c, got, status)
			}
		}
	}
	if len(Codes()) != n {
		t.Errorf("the table has %d codes, the contract %d", len(Codes()), n)
	}
	for _, c := range []string{events.CodeMalformedCommand, events.CodeUnknownCommand, events.CodePayloadTooLarge, events.CodeInvalidCommandID,
		events.CodeInvalidUserID, events.CodeInvalidEmail, events.CodeInvalidField, events.CodeUnknownUser, events.CodeUserDeleted,
		events.CodeUserExists, events.CodeEmailTaken, events.CodeForbiddenTransition, events.CodeConflict, events.CodeInternal} {
		if _, ok := statusOf[c]; !ok {
			t.Errorf("rejection code %s has no status", c)
		}
	}
	if p := newProblem("forbidden_transition", "rule"); p.Type != "urn:userlife:problem:forbidden_transition" || p.Title != http.StatusText(409) {
		t.Errorf("problem %+v", p)
	}
}
