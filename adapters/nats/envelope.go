package nats

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// readEnvelope reads an envelope into an audit row without reflection,
// checking the JSON as it goes: a
// full-log audit spends most of its time here, and encoding/json costs
// several times the read itself. It handles what events.Encode writes and
// any other well-formed object; whatever it is unsure of (escapes in keys,
// keys that differ from the known ones only by case, non-string values
// for string fields, invalid UTF-8) it leaves to encoding/json, so the
// result is always what json.Unmarshal would give.
func readEnvelope(b []byte, env *envelopeRow) error {
	if fastEnvelope(b, env) {
		return nil
	}
	*env = envelopeRow{}
	return json.Unmarshal(b, env)
}

var envelopeKeys = []string{"id", "type", "user_id", "occurred_at", "actor", "reason", "command_id", "correlation_id", "data"}

func fastEnvelope(b []byte, env *envelopeRow) bool {
	// The fields are slices of the body itself, viewed as a string: no
	// copy. The body is the received message's own buffer, which nothing
	// writes to after it arrived (Record.Data is read-only).
	if len(b) == 0 {
		return false
	}
	whole := unsafe.String(&b[0], len(b))
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
		if bytes.IndexByte(b[kstart:kend-1], '\\') >= 0 {
			return false
		}
		i = skipSpace(b, kend)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		vstart := i
		i = skipValue(b, i)
		if i < 0 {
			return false
		}
		if !setField(env, whole[kstart:kend-1], b[vstart:i], whole[vstart:i]) {
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
func setField(env *envelopeRow, key string, val []byte, sval string) bool {
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
	s := sval[1 : len(sval)-1]
	if strings.IndexByte(s, '\\') >= 0 || !utf8.ValidString(s) {
		return false
	}
	*dst = s
	return true
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
