package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/userlife/userlife/domain"
	"github.com/userlife/userlife/events"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	valid := func(name string) events.Command { return newCommand(name, "u-1", "c-1") }
	with := func(name string, change func(*events.CommandMeta)) events.Command {
		cmd := valid(name)
		change(cmd.Meta())
		return cmd
	}
	revokeSession := func(sid string) events.Command {
		cmd := valid(events.CmdRevokeSession)
		cmd.(*events.RevokeSession).SessionID = sid
		return cmd
	}
	purged := func(service string, items int64) events.Command {
		cmd := valid(events.CmdRecordDataPurged)
		c := cmd.(*events.RecordDataPurged)
		c.Service, c.ItemsRemoved = service, items
		return cmd
	}
	register := func(email string) events.Command {
		cmd := valid(events.CmdRegisterUser)
		cmd.(*events.RegisterUser).Email = email
		return cmd
	}
	tests := []struct {
		name     string
		cmd      events.Command
		wantCode string // "" = valid
	}{
		{"register", valid(events.CmdRegisterUser), ""},
		{"confirm", valid(events.CmdConfirmUser), ""},
		{"disable", valid(events.CmdDisableUser), ""},
		{"enable", valid(events.CmdEnableUser), ""},
		{"delete", valid(events.CmdDeleteUser), ""},
		{"revoke", valid(events.CmdRevokeSessions), ""},
		{"revoke one session", valid(events.CmdRevokeSession), ""},
		{"data purged", valid(events.CmdRecordDataPurged), ""},
		{"data purged, nothing to remove", purged("billing", 0), ""},
		{"data purged, service 64 chars", purged(strings.Repeat("s", 64), 1), ""},
		{"data purged, no service", purged("", 1), events.CodeInvalidField},
		{"data purged, service with dot", purged("todo.v2", 1), events.CodeInvalidField},
		{"data purged, service with space", purged("todo app", 1), events.CodeInvalidField},
		{"data purged, service 65 chars", purged(strings.Repeat("s", 65), 1), events.CodeInvalidField},
		{"data purged, negative count", purged("todo", -1), events.CodeInvalidField},
		{"no reason", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.Reason = "" }), ""},
		{"uuid ids", with(events.CmdDisableUser, func(m *events.CommandMeta) {
			m.UserID, m.CommandID = "0195924c-1111-7abc-8def-0123456789ab", "0195924c-2222-7abc-8def-0123456789ab"
		}), ""},

		{"missing command_id", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.CommandID = "" }), events.CodeInvalidCommandID},
		{"command_id with dot", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.CommandID = "c.1" }), events.CodeInvalidCommandID},
		{"command_id with space", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.CommandID = "c 1" }), events.CodeInvalidCommandID},
		{"command_id wildcard", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.CommandID = ">" }), events.CodeInvalidCommandID},
		{"command_id 65 chars", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.CommandID = strings.Repeat("c", 65) }), events.CodeInvalidCommandID},

		{"missing user_id", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.UserID = "" }), events.CodeInvalidUserID},
		{"user_id .", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.UserID = "." }), events.CodeInvalidUserID},
		{"user_id *", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.UserID = "*" }), events.CodeInvalidUserID},
		{"user_id >", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.UserID = ">" }), events.CodeInvalidUserID},
		{"user_id space", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.UserID = " " }), events.CodeInvalidUserID},
		{"user_id leading space", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.UserID = " u-1" }), events.CodeInvalidUserID},
		{"user_id two tokens", with(events.CmdDeleteUser, func(m *events.CommandMeta) { m.UserID = "u.1" }), events.CodeInvalidUserID},
		{"user_id 65 chars", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.UserID = strings.Repeat("u", 65) }), events.CodeInvalidUserID},
		{"register without user_id", with(events.CmdRegisterUser, func(m *events.CommandMeta) { m.UserID = "" }), events.CodeInvalidUserID},

		{"missing actor", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.Actor = "" }), events.CodeInvalidField},
		{"blank actor", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.Actor = " \t\n" }), events.CodeInvalidField},
		{"actor at limit", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.Actor = strings.Repeat("a", events.MaxActorLength) }), ""},
		{"actor too long", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.Actor = strings.Repeat("a", events.MaxActorLength+1) }), events.CodeInvalidField},
		{"reason at limit", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.Reason = strings.Repeat("r", events.MaxReasonLength) }), ""},
		{"reason too long", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.Reason = strings.Repeat("r", events.MaxReasonLength+1) }), events.CodeInvalidField},
		{"reason too long in bytes", with(events.CmdDeleteUser, func(m *events.CommandMeta) { m.Reason = strings.Repeat("é", events.MaxReasonLength/2+1) }), events.CodeInvalidField},
		{"correlation_id too long", with(events.CmdDisableUser, func(m *events.CommandMeta) { m.CorrelationID = strings.Repeat("k", 129) }), events.CodeInvalidField},

		{"email mixed case", register("Bob.Smith+tag@Example.COM"), ""},
		{"email missing", register(""), events.CodeInvalidEmail},
		{"email without @", register("bob.example.com"), events.CodeInvalidEmail},
		{"email without local part", register("@example.com"), events.CodeInvalidEmail},
		{"email without domain", register("bob@"), events.CodeInvalidEmail},
		{"email with two @", register("bob@ex@ample.com"), events.CodeInvalidEmail},
		{"email with display name", register("Bob <bob@example.com>"), events.CodeInvalidEmail},
		{"email in angle brackets", register("<bob@example.com>"), events.CodeInvalidEmail},
		{"email with leading space", register(" bob@example.com"), events.CodeInvalidEmail},
		{"email with trailing space", register("bob@example.com "), events.CodeInvalidEmail},
		{"email with space inside", register("bob smith@example.com"), events.CodeInvalidEmail},
		{"email list", register("a@example.com, b@example.com"), events.CodeInvalidEmail},
		{"email invalid UTF-8", register("b\xffb@example.com"), events.CodeInvalidEmail},
		{"email too long", register(strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com"), events.CodeInvalidEmail},
		{"email at length limit", register(strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com"), ""},

		{"session_id uuid", revokeSession("0195924c-3333-7abc-8def-0123456789ab"), ""},
		{"session_id punctuation", revokeSession("a:b/c=d~_.+!"), ""},
		{"session_id one char", revokeSession("s"), ""},
		{"session_id 128 bytes", revokeSession(strings.Repeat("s", 128)), ""},
		{"session_id missing", revokeSession(""), events.CodeInvalidField},
		{"session_id 129 bytes", revokeSession(strings.Repeat("s", 129)), events.CodeInvalidField},
		{"session_id with space", revokeSession("sid 1"), events.CodeInvalidField},
		{"session_id only a space", revokeSession(" "), events.CodeInvalidField},
		{"session_id with tab", revokeSession("sid\t1"), events.CodeInvalidField},
		{"session_id with newline", revokeSession("sid-1\n"), events.CodeInvalidField},
		{"session_id with NUL", revokeSession("sid\x001"), events.CodeInvalidField},
		{"session_id with DEL", revokeSession("sid\x7f"), events.CodeInvalidField},
		{"session_id non-ASCII", revokeSession("sitzung-ä"), events.CodeInvalidField},
		{"session_id invalid UTF-8", revokeSession("sid\xff"), events.CodeInvalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := domain.Validate(tt.cmd)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Validate: %v, want valid", err)
				}
				return
			}
			var ce *events.CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("Validate error = %v, want a *events.CommandError with code %q", err, tt.wantCode)
			}
			if ce.Code != tt.wantCode {
				t.Errorf("code = %q, want %q (%s)", ce.Code, tt.wantCode, ce.Message)
			}
		})
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	variants := []string{"ada@example.com", "Ada@Example.com", "ADA@EXAMPLE.COM", "aDa@eXaMpLe.CoM", " ada@example.com\t"}
	for _, v := range variants {
		if got, want := domain.NormalizeEmail(v), "ada@example.com"; got != want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", v, got, want)
		}
	}
	if a, b := domain.NormalizeEmail("ada@example.com"), domain.NormalizeEmail("ada2@example.com"); a == b {
		t.Errorf("different emails share the key %q", a)
	}
}
