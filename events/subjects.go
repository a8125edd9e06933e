package events

import "strings"

// Subject prefixes. Events of one user share the prefix
// "userlife.events.<user_id>." so a consumer can filter per user, per type
// ("userlife.events.*.UserDeleted") or both.
const (
	EventSubjectPrefix   = "userlife.events."
	CommandSubjectPrefix = "userlife.cmd."
	ResultSubjectPrefix  = "userlife.results."
	PoisonSubjectPrefix  = "userlife.poison."
)

// MaxIDLength bounds user and command ids.
const MaxIDLength = 64

// EventSubject is the subject an event of type t about userID is stored on.
func EventSubject(userID string, t Type) string {
	return EventSubjectPrefix + userID + "." + string(t)
}

// UserEventsFilter matches every event of one user.
func UserEventsFilter(userID string) string {
	return EventSubjectPrefix + userID + ".*"
}

// CommandSubject is the subject a command named name is published on.
func CommandSubject(name string) string { return CommandSubjectPrefix + name }

// ResultSubject is the subject a command's outcome is published on.
func ResultSubject(commandID string) string { return ResultSubjectPrefix + commandID }

// ParseEventSubject splits "userlife.events.<user_id>.<type>".
func ParseEventSubject(subject string) (userID string, t Type, ok bool) {
	rest, found := strings.CutPrefix(subject, EventSubjectPrefix)
	if !found {
		return "", "", false
	}
	id, typ, found := strings.Cut(rest, ".")
	if !found || !ValidID(id) || typ == "" || strings.Contains(typ, ".") {
		return "", "", false
	}
	return id, Type(typ), true
}

// ValidID reports whether s can be a user or command id: 1 to 64 characters
// from [A-Za-z0-9_-], so it is always a single NATS subject token and a KV key.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
