package nats

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// readEnvelope reads an envelope into an audit row without reflection
// (once json.Valid has checked the document): a
// full-log audit spends most of its time here, and encoding/json costs
// several times the read itself. It handles what events.Encode writes and
// any other well-formed object; whatever it is unsure of (escapes in keys,
// keys that differ from the known ones only by case, non-string values
// for string fields, invalid UTF-8) it leaves to encoding/json, so the
// result is always what json.Unmarshal would give.
func readEnvelope(b []byte, env *envelopeRow) error {
	if json.Valid(b) && fastEnvelope(b, env) {
		return nil
	}
	*env = envelopeRow{}
	return json.Unmarshal(b, env)
}

var envelopeKeys = []string{"id", "type", "user_id", "occurred_at", "actor", "reason", "command_id", "correlation_id", "data"}

func fastEnvelope(b []byte, env *envelopeRow) bool {
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
		end := bytes.IndexByte(b[i+1:], '"')
		if end < 0 {
			return false
		}
		key := b[i+1 : i+1+end]
		if bytes.IndexByte(key, '\\') >= 0 {
			return false
		}
		i = skipSpace(b, i+2+end)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		vstart := i
		i = skipValue(b, i)
		if i < 0 {
			return false
		}
		val := b[vstart:i]
		if !setField(env, string(key), val) {
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

// setField stores one value; false hands the whole envelope to
// encoding/json.
func setField(env *envelopeRow, key string, val []byte) bool {
	var dst *string
	switch key {
	case "id":
		dst = &env.ID
	case "type":
		dst = (*string)(&env.Type)
	case "user_id":
		dst = &env.UserID
	case "actor":
		dst = &env.Actor
	case "reason":
		dst = &env.Reason
	case "command_id":
		dst = &env.CommandID
	case "correlation_id":
		dst = &env.CorrelationID
	case "occurred_at":
		if val[0] != '"' {
			return false
		}
		return env.OccurredAt.UnmarshalJSON(val) == nil
	case "data":
		if val[0] != '{' {
			return false
		}
		env.Data = val
		return true
	default:
		for _, k := range envelopeKeys {
			if strings.EqualFold(k, key) {
				return false // encoding/json matches keys regardless of case
			}
		}
		return true
	}
	if val[0] != '"' {
		return false
	}
	s := val[1 : len(val)-1]
	if bytes.IndexByte(s, '\\') >= 0 || !utf8.Valid(s) {
		return false
	}
	*dst = string(s)
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index after the JSON value at i, or -1; the
// document was validated before.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return -1
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			case '"':
				k := skipValue(b, j)
				if k < 0 {
					return -1
				}
				j = k - 1
			}
		}
		return -1
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}
