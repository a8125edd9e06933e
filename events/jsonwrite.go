package events

import (
	"encoding/json"
	"strconv"
	"time"
)

// This file writes envelopes and payloads without reflection, byte for byte
// what encoding/json writes: every command appends, and every audit row
// holds, an encoded payload. Strings that encoding/json would escape (and
// times it would refuse) go to encoding/json; FuzzEncodeFast checks the two
// agree.

// MarshalPayload is json.Marshal(p).
func MarshalPayload(p Payload) ([]byte, error) {
	if b, ok := appendPayload(make([]byte, 0, 64), p); ok {
		return b, nil
	}
	return json.Marshal(p)
}

// appendPayload appends p's JSON; false when p needs encoding/json.
func appendPayload(b []byte, p Payload) ([]byte, bool) {
	switch v := p.(type) {
	case UserRegistered:
		if v.EmailSealed != "" {
			return appendMember(append(b, '{'), `"email_sealed":`, v.EmailSealed, "}")
		}
		if v.Email == "" {
			return append(b, "{}"...), true
		}
		return appendMember(append(b, '{'), `"email":`, v.Email, "}")
	case UserConfirmed, UserEnabled:
		return append(b, "{}"...), true
	case UserDisabled:
		return appendTime(append(b, `{"revoked_before":`...), v.RevokedBefore, "}")
	case UserDeleted:
		return appendTime(append(b, `{"revoked_before":`...), v.RevokedBefore, "}")
	case SessionsRevoked:
		return appendTime(append(b, `{"revoked_before":`...), v.RevokedBefore, "}")
	case SessionRevoked:
		return appendMember(append(b, '{'), `"session_id":`, v.SessionID, "}")
	case UserDataPurged:
		b, ok := appendMember(append(b, '{'), `"service":`, v.Service, `,"items_removed":`)
		return append(strconv.AppendInt(b, v.ItemsRemoved, 10), '}'), ok
	}
	return b, false
}

// appendEvent appends the envelope e (its Data unused) with payload p;
// false when a field needs encoding/json.
func appendEvent(b []byte, e RawEnvelope, p Payload) ([]byte, bool) {
	ok := true
	str := func(key, s string) {
		if ok {
			b, ok = appendMember(b, key, s, "")
		}
	}
	b = append(b, '{')
	str(`"id":`, e.ID)
	str(`,"type":`, string(e.Type))
	str(`,"user_id":`, e.UserID)
	if ok {
		b, ok = appendTime(append(b, `,"occurred_at":`...), e.OccurredAt, "")
	}
	str(`,"actor":`, e.Actor)
	if e.Reason != "" {
		str(`,"reason":`, e.Reason)
	}
	str(`,"command_id":`, e.CommandID)
	if e.CorrelationID != "" {
		str(`,"correlation_id":`, e.CorrelationID)
	}
	if !ok {
		return b, false
	}
	b, ok = appendPayload(append(b, `,"data":`...), p)
	return append(b, '}'), ok
}

// appendMember appends key, s as a JSON string, then tail; false when s
// holds a byte encoding/json escapes (or may replace).
func appendMember(b []byte, key, s, tail string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return b, false
		}
	}
	b = append(b, key...)
	b = append(b, '"')
	b = append(b, s...)
	b = append(b, '"')
	return append(b, tail...), true
}

// appendTime appends t as encoding/json does (RFC 3339 with nanoseconds),
// then tail; false outside UTC or for a year encoding/json refuses.
func appendTime(b []byte, t time.Time, tail string) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	if _, off := t.Zone(); off != 0 {
		return b, false // events hold UTC; encoding/json knows the rules for offsets
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	return append(b, tail...), true
}
