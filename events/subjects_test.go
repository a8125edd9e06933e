package events_test

import (
	"strings"
	"testing"

	"github.com/userlife/userlife/events"
)

func TestSubjects(t *testing.T) {
	t.Parallel()
	tests := []struct{ got, want string }{
		{events.EventSubject("u1", events.TypeUserDeleted), "userlife.events.u1.UserDeleted"},
		{events.UserEventsFilter("u1"), "userlife.events.u1.*"},
		{events.CommandSubject(events.CmdDisableUser), "userlife.cmd.DisableUser"},
		{events.ResultSubject("c-1"), "userlife.results.c-1"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestParseEventSubjectRoundTrip(t *testing.T) {
	t.Parallel()
	ids := []string{"u1", "0195924c-1111-7abc-8def-0123456789ab", "A_b-9", strings.Repeat("z", 64)}
	for _, id := range ids {
		for _, typ := range events.Types() {
			subject := events.EventSubject(id, typ)
			gotID, gotType, ok := events.ParseEventSubject(subject)
			if !ok || gotID != id || gotType != typ {
				t.Errorf("ParseEventSubject(%q) = %q, %q, %v; want %q, %q, true", subject, gotID, gotType, ok, id, typ)
			}
		}
	}
}

func TestParseEventSubjectRejects(t *testing.T) {
	t.Parallel()
	subjects := []string{
		"",
		"userlife.events.",
		"userlife.events.u1",
		"userlife.events.u1.",
		"userlife.events..UserDeleted",
		"userlife.events.u1.UserDeleted.extra",
		"userlife.cmd.DisableUser",
		"other.events.u1.UserDeleted",
		"userlife.events.*.UserDeleted",
		"userlife.events.>",
		"userlife.events.u 1.UserDeleted",
		"userlife.events." + strings.Repeat("a", 65) + ".UserDeleted",
	}
	for _, s := range subjects {
		if id, typ, ok := events.ParseEventSubject(s); ok {
			t.Errorf("ParseEventSubject(%q) = %q, %q, true; want not ok", s, id, typ)
		}
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		want bool
	}{
		{"u1", true},
		{"a", true},
		{"0195924c-1111-7abc-8def-0123456789ab", true},
		{"snake_case-and-dash_09", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"a.b", false},
		{".", false},
		{"*", false},
		{">", false},
		{" x", false},
		{"x ", false},
		{"a b", false},
		{"a\tb", false},
		{"a/b", false},
		{"a:b", false},
		{"é", false},
		{"a\x00", false},
	}
	for _, tt := range tests {
		if got := events.ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestOncePerUser(t *testing.T) {
	t.Parallel()
	once := map[events.Type]bool{events.TypeUserRegistered: true, events.TypeUserConfirmed: true, events.TypeUserDeleted: true}
	for _, typ := range events.Types() {
		if got := typ.OncePerUser(); got != once[typ] {
			t.Errorf("%s.OncePerUser() = %v, want %v", typ, got, once[typ])
		}
	}
}
