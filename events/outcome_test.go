package events_test

import (
	"testing"

	"github.com/userlife/userlife/events"
)

func TestOutcomeRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    events.Outcome
		wire string
	}{
		{
			"accepted",
			events.Outcome{CommandID: "c-1", Command: events.CmdDisableUser, Status: events.StatusAccepted, UserID: "u-1", EventSeq: 42},
			`{"command_id":"c-1","command":"DisableUser","status":"accepted","user_id":"u-1","event_seq":42}`,
		},
		{
			"unchanged",
			events.Outcome{CommandID: "c-2", Command: events.CmdDisableUser, Status: events.StatusUnchanged, Message: "user u-1 is already disabled", UserID: "u-1", EventSeq: 42},
			`{"command_id":"c-2","command":"DisableUser","status":"unchanged","message":"user u-1 is already disabled","user_id":"u-1","event_seq":42}`,
		},
		{
			"rejected",
			events.Outcome{CommandID: "c-3", Status: events.StatusRejected, Code: events.CodeMalformedCommand, Message: "not JSON"},
			`{"command_id":"c-3","status":"rejected","code":"malformed_command","message":"not JSON"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := events.EncodeOutcome(tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); got != tt.wire {
				t.Errorf("EncodeOutcome:\ngot:  %s\nwant: %s", got, tt.wire)
			}
			got, err := events.DecodeOutcome(b)
			if err != nil {
				t.Fatalf("DecodeOutcome: %v", err)
			}
			if got != tt.o {
				t.Errorf("DecodeOutcome:\ngot:  %#v\nwant: %#v", got, tt.o)
			}
		})
	}
}

func TestDecodeOutcomeRejects(t *testing.T) {
	t.Parallel()
	inputs := []string{
		`{"command_id":"c-1","status":"done"}`,
		`{"command_id":"c-1","status":"ACCEPTED"}`,
		`{"command_id":"c-1"}`,
		`{"command_id":"c-1","status":5}`,
		`not json`,
		``,
	}
	for _, in := range inputs {
		if o, err := events.DecodeOutcome([]byte(in)); err == nil {
			t.Errorf("DecodeOutcome(%q) = %#v, want an error", in, o)
		}
	}
}

func TestDecodeOutcomeIgnoresUnknownFields(t *testing.T) {
	t.Parallel()
	got, err := events.DecodeOutcome([]byte(`{"command_id":"c-1","status":"accepted","event_seq":3,"took_ms":12}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := (events.Outcome{CommandID: "c-1", Status: events.StatusAccepted, EventSeq: 3}); got != want {
		t.Errorf("got %#v, want %#v", got, want)
	}
}
