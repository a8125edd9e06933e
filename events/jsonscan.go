package events

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
)

// This file reads envelopes and payloads without reflection. A replay, a
// projector catching up or an audit scan spends most of its time decoding,
// and encoding/json costs several times the read itself. The readers handle
// what Encode writes and any other well-formed object; whatever they are
// unsure of (escapes in keys or strings, keys that differ from the known
// ones only by case, null or non-string values, invalid UTF-8) they hand to
// encoding/json, so the result is always what json.Unmarshal gives. Fuzz
// targets check exactly that.

// RawEnvelope is an event's envelope with the payload left undecoded: what
// an audit row needs, whatever the event type. Field order is the order on
// the wire.
type RawEnvelope struct {
	ID            string          `json:"id"`
	Type          Type            `json:"type"`
	UserID        string          `json:"user_id"`
	OccurredAt    time.Time       `json:"occurred_at"`
	Actor         string          `json:"actor"`
	Reason        string          `json:"reason,omitempty"`
	CommandID     string          `json:"command_id"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	Data          json.RawMessage `json:"data"`
}

// ReadEnvelope reads b into env exactly as json.Unmarshal would, without
// its cost in the common case. The strings and Data of env share b's
// memory: b must not be written to afterwards (a received message's body,
// which nothing writes to, qualifies).
func ReadEnvelope(b []byte, env *RawEnvelope) error {
	if len(b) > 0 && readEnvelopeFast(b, unsafe.String(&b[0], len(b)), env) {
		return nil
	}
	*env = RawEnvelope{}
	return json.Unmarshal(b, env)
}

var envelopeKeys = []string{"id", "type", "user_id", "occurred_at", "actor", "reason", "command_id", "correlation_id", "data"}

// readEnvelopeFast reads b (whose string view is s) into env; false hands
// the whole envelope to encoding/json.
func readEnvelopeFast(b []byte, s string, env *RawEnvelope) bool {
	*env = RawEnvelope{}
	return readObject(b, s, func(key string, val []byte, sval string) bool {
		switch key {
		case "id":
			return setString(&env.ID, val, sval)
		case "type":
			return setString((*string)(&env.Type), val, sval)
		case "user_id":
			return setString(&env.UserID, val, sval)
		case "actor":
			return setString(&env.Actor, val, sval)
		case "reason":
			return setString(&env.Reason, val, sval)
		case "command_id":
			return setString(&env.CommandID, val, sval)
		case "correlation_id":
			return setString(&env.CorrelationID, val, sval)
		case "occurred_at":
			return setTime(&env.OccurredAt, val)
		case "data":
			if val[0] != '{' {
				return false
			}
			env.Data = val
			return true
		}
		return !foldsToAny(key, envelopeKeys)
	})
}

// readPayloadFast decodes the payload of an event of type t from data
// (whose string view is s); false hands it to encoding/json.
func readPayloadFast(t Type, data []byte, s string) (Payload, bool) {
	switch t {
	case TypeUserRegistered:
		var p UserRegistered
		ok := readObject(data, s, func(key string, val []byte, sval string) bool {
			switch key {
			case "email":
				return setString(&p.Email, val, sval)
			case "email_sealed":
				return setString(&p.EmailSealed, val, sval)
			}
			return !foldsToAny(key, registeredKeys)
		})
		return p, ok
	case TypeUserConfirmed:
		return UserConfirmed{}, readObject(data, s, ignoreAll)
	case TypeUserEnabled:
		return UserEnabled{}, readObject(data, s, ignoreAll)
	case TypeUserDisabled, TypeUserDeleted, TypeSessionsRevoked:
		var rb time.Time
		ok := readObject(data, s, func(key string, val []byte, _ string) bool {
			if key == "revoked_before" {
				return setTime(&rb, val)
			}
			return !foldsToAny(key, revokedKeys)
		})
		switch t {
		case TypeUserDisabled:
			return UserDisabled{RevokedBefore: rb}, ok
		case TypeUserDeleted:
			return UserDeleted{RevokedBefore: rb}, ok
		}
		return SessionsRevoked{RevokedBefore: rb}, ok
	case TypeSessionRevoked:
		var p SessionRevoked
		ok := readObject(data, s, func(key string, val []byte, sval string) bool {
			if key == "session_id" {
				return setString(&p.SessionID, val, sval)
			}
			return !foldsToAny(key, sessionKeys)
		})
		return p, ok
	case TypeUserDataPurged:
		var p UserDataPurged
		ok := readObject(data, s, func(key string, val []byte, sval string) bool {
			switch key {
			case "service":
				return setString(&p.Service, val, sval)
			case "items_removed":
				if val[0] != '-' && (val[0] < '0' || val[0] > '9') {
					return false
				}
				n, err := strconv.ParseInt(sval, 10, 64)
				p.ItemsRemoved = n
				return err == nil
			}
			return !foldsToAny(key, purgedKeys)
		})
		return p, ok
	}
	return nil, false
}

var (
	registeredKeys = []string{"email", "email_sealed"}
	revokedKeys    = []string{"revoked_before"}
	sessionKeys    = []string{"session_id"}
	purgedKeys     = []string{"service", "items_removed"}
)

func ignoreAll(string, []byte, string) bool { return true }

// foldsToAny reports whether key matches one of keys regardless of case, as
// encoding/json matches them.
func foldsToAny(key string, keys []string) bool {
	for _, k := range keys {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

// setString stores a JSON string without escapes; anything else (escapes,
// null, another type, invalid UTF-8) is encoding/json's.
func setString(dst *string, val []byte, sval string) bool {
	if val[0] != '"' {
		return false
	}
	s := sval[1 : len(sval)-1]
	if strings.IndexByte(s, '\\') >= 0 || !utf8.ValidString(s) {
		return false
	}
	*dst = s
	return true
}

// setTime stores a JSON string holding an RFC 3339 time.
func setTime(dst *time.Time, val []byte) bool {
	return val[0] == '"' && dst.UnmarshalJSON(val) == nil
}

// readObject walks the JSON object that is all of b (space around it
// allowed), calling set with each member in order: its key, and its value
// as bytes and as a string (slices of b and s, which views the same
// bytes). False when b is anything else, a key holds an escape, or set
// refuses a member.
func readObject(b []byte, s string, set func(key string, val []byte, sval string) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		kend := scanString(b, i)
		if kend < 0 {
			return false
		}
		kstart := i + 1
		if strings.IndexByte(s[kstart:kend-1], '\\') >= 0 {
			return false
		}
		i = skipSpace(b, kend)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		vstart := i
		if i = skipValue(b, i); i < 0 {
			return false
		}
		if !set(s[kstart:kend-1], b[vstart:i], s[vstart:i]) {
			return false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			return skipSpace(b, i+1) == len(b)
		}
		if b[i] != ',' {
			return false
		}
		i = skipSpace(b, i+1)
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// maxDepth is encoding/json's nesting limit; deeper documents go to it.
const maxDepth = 10000

// skipValue checks the JSON value at i and returns the index after it, or
// -1 when it is not valid JSON (the reader then defers to encoding/json).
func skipValue(b []byte, i int) int { return scanValue(b, i, 0) }

func scanValue(b []byte, i, depth int) int {
	if i >= len(b) || depth > maxDepth {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		return scanString(b, i)
	case c == '{':
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return -1
			}
			if i = scanString(b, i); i < 0 {
				return -1
			}
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != ':' {
				return -1
			}
			if i = scanValue(b, skipSpace(b, i+1), depth+1); i < 0 {
				return -1
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return -1
			}
			if b[i] == '}' {
				return i + 1
			}
			if b[i] != ',' {
				return -1
			}
			i = skipSpace(b, i+1)
		}
	case c == '[':
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1
		}
		for {
			if i = scanValue(b, i, depth+1); i < 0 {
				return -1
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return -1
			}
			if b[i] == ']' {
				return i + 1
			}
			if b[i] != ',' {
				return -1
			}
			i = skipSpace(b, i+1)
		}
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(b, i)
	}
	return -1
}

func literal(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// scanString checks the string at i (a '"') and returns the index after
// its closing quote.
func scanString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1
		case c < 0x20:
			return -1
		case c == '\\':
			j++
			if j >= len(b) {
				return -1
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-j < 5 {
					return -1
				}
				for _, h := range b[j+1 : j+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return -1
					}
				}
				j += 4
			default:
				return -1
			}
		}
	}
	return -1
}

// scanNumber checks -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? at i.
func scanNumber(b []byte, i int) int {
	digits := func(j int) int {
		k := j
		for k < len(b) && b[k] >= '0' && b[k] <= '9' {
			k++
		}
		return k
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}
