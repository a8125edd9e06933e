package events

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func addGolden(f *testing.F) {
	golden, _ := filepath.Glob("testdata/golden/*.json")
	if len(golden) == 0 {
		f.Fatal("no golden events in testdata/golden")
	}
	for _, p := range golden {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzReadEnvelope: the reflection-free reader gives exactly what
// encoding/json gives, or the same refusal.
func FuzzReadEnvelope(f *testing.F) {
	addGolden(f)
	for _, s := range []string{
		`{}`, `{"id":"a\"b","type":"T","user_id":"u","data":{"x":"}"}}`, `{"Actor":"x","actor":"y"}`,
		`{"actor":null,"reason":7}`, `{"data":[1,2]}`, `{"data":{"a":tru}}`, ` { "id" : "x" , "extra" : {"n":[1,{"m":"\u00e9"}]} } `,
		"{\"actor\":\"\xff\"}", `{"occurred_at":"2026-05-01T12:00:00+02:00"}`, `{"occurred_at":"yesterday"}`, `{"id":"x"`, `{"id":"x"}x`,
		`{"id":"tab	in"}`, `{"a\u0063tor":"x"}`, `[]`, `"s"`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want RawEnvelope
		werr := json.Unmarshal(b, &want)
		var got RawEnvelope
		gerr := ReadEnvelope(b, &got)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: ReadEnvelope error %v, encoding/json error %v", b, gerr, werr)
		}
		if werr != nil {
			return
		}
		if !want.OccurredAt.Equal(got.OccurredAt) {
			t.Fatalf("%q: occurred_at %v, want %v", b, got.OccurredAt, want.OccurredAt)
		}
		got.OccurredAt = want.OccurredAt
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %+v, want %+v", b, got, want)
		}
	})
}

// FuzzDecodeFast: Decode, which reads without reflection where it can,
// gives exactly what encoding/json alone gives: the same event or the same
// error.
func FuzzDecodeFast(f *testing.F) {
	addGolden(f)
	for _, s := range []string{
		`{"type":"UserRegistered","user_id":"u1","data":{"email":"a@b","Email":"c@d"}}`,
		`{"type":"UserRegistered","user_id":"u1","data":{"email":"a\u0040b","email_sealed":null}}`,
		`{"type":"UserRegistered","user_id":"u1","data":{"email_sealed":"v1:x","EMAIL":7}}`,
		`{"type":"UserDisabled","user_id":"u1","data":{"revoked_before":"2026-01-02T03:04:05.123456789+01:00","x":[{}]}}`,
		`{"type":"UserDeleted","user_id":"u1","data":{"revoked_before":null}}`,
		`{"type":"SessionsRevoked","user_id":"u1","data":{"revoked_before":"2026-01-02","revoked_before":"2026-01-02T03:04:05Z"}}`,
		`{"type":"SessionsRevoked","user_id":"u1","data":{"Revoked_Before":"2026-01-02T03:04:05Z"}}`,
		`{"type":"SessionRevoked","user_id":"u1","data":{"session_id":"s\u00e9"}}`,
		`{"type":"UserDataPurged","user_id":"u1","data":{"service":"todo","items_removed":9223372036854775808}}`,
		`{"type":"UserDataPurged","user_id":"u1","data":{"service":"todo","items_removed":-0}}`,
		`{"type":"UserDataPurged","user_id":"u1","data":{"items_removed":"3"}}`,
		`{"type":"UserDataPurged","user_id":"u1","data":{"items_removed":1.0}}`,
		`{"type":"UserConfirmed","user_id":"u1","data":{"any":{"deep":[1,"x",null,true]}}}`,
		`{"type":"UserEnabled","user_id":"u1","data":{"a":}}`,
		`{"type":"UserEnabled","user_id":"u1","data": {} }`,
		`{"type":"UserEnabled","user_id":"u1","data":[]}`,
		`{"type":"UserEnabled","user_id":"u1","data":null}`,
		`{"type":"UserRenamed","user_id":"u1","data":{}}`,
		"{\"type\":\"SessionRevoked\",\"user_id\":\"u1\",\"data\":{\"session_id\":\"\xff\"}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, werr := decode(b, false)
		got, gerr := decode(b, true)
		if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
			t.Fatalf("%q: fast error %v, encoding/json error %v", b, gerr, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\nfast:          %#v\nencoding/json: %#v", b, got, want)
		}
	})
}

// The event owns its strings: writing to the buffer it was decoded from
// afterwards changes nothing in it.
func TestDecodeCopiesItsInput(t *testing.T) {
	b := []byte(`{"id":"e1","type":"SessionRevoked","user_id":"u1","actor":"ann","data":{"session_id":"s1"}}`)
	e, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'x'
	}
	if e.ID != "e1" || e.UserID != "u1" || e.Actor != "ann" || e.Data != (SessionRevoked{SessionID: "s1"}) {
		t.Fatalf("event changed with its input buffer: %#v", e)
	}
}

// Each of an event's strings holds its own bytes only: keeping a user id
// (a map keyed by it) keeps nothing else of the message alive.
func TestDecodedIDsKeepNoMessage(t *testing.T) {
	reason := strings.Repeat("r", 4096)
	const n = 2000
	ids := make([]string, 0, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		b := []byte(fmt.Sprintf(`{"id":"e%d","type":"SessionRevoked","user_id":"user-%d","actor":"ann","reason":%q,"data":{"session_id":"s"}}`, i, i, reason))
		e, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.UserID)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n; per > 512 {
		t.Fatalf("%d bytes of heap kept per user id: the ids keep their 4 KiB messages alive", per)
	}
	runtime.KeepAlive(ids)
}

// FuzzEncodeFast: Encode, which writes without reflection where it can,
// gives byte for byte what encoding/json alone gives, or the same error.
// The fuzzer varies every field of every event type.
func FuzzEncodeFast(f *testing.F) {
	f.Add(uint8(0), "e1", "u1", "ann@example.com", "admin", "", "c1", "", int64(1767225600), int64(0), int16(0), int64(0))
	f.Add(uint8(0), "e1", "u1", "", "admin", "r", "c1", "k", int64(0), int64(5), int16(60), int64(0))
	f.Add(uint8(2), "e\u2028", "u<1>", "x", "a&b", "\"quoted\"", "c\\1", "\x7f", int64(253402300799), int64(999999999), int16(-330), int64(-1))
	f.Add(uint8(2), "e", "u", "", "", "", "c", "", int64(0), int64(0), int16(1500), int64(0))
	f.Add(uint8(5), "", "", "", "", "", "", "", int64(-62135596800), int64(1), int16(1), int64(9))
	f.Add(uint8(7), "e", "u", "svc", "é", "\xff", "c", "", int64(253402300800), int64(0), int16(0), int64(-9223372036854775808))
	f.Fuzz(func(t *testing.T, kind uint8, id, user, str, actor, reason, cmd, corr string, sec, nsec int64, offMin int16, n int64) {
		zone := time.FixedZone("", int(offMin)*60)
		at := time.Unix(sec, nsec%1e9).In(zone)
		types := Types()
		typ := types[int(kind)%len(types)]
		var p Payload
		switch typ {
		case TypeUserRegistered:
			if kind&8 != 0 {
				p = UserRegistered{EmailSealed: str}
			} else {
				p = UserRegistered{Email: str}
			}
		case TypeUserConfirmed:
			p = UserConfirmed{}
		case TypeUserDisabled:
			p = UserDisabled{RevokedBefore: at}
		case TypeUserEnabled:
			p = UserEnabled{}
		case TypeUserDeleted:
			p = UserDeleted{RevokedBefore: at}
		case TypeSessionsRevoked:
			p = SessionsRevoked{RevokedBefore: at}
		case TypeSessionRevoked:
			p = SessionRevoked{SessionID: str}
		case TypeUserDataPurged:
			p = UserDataPurged{Service: str, ItemsRemoved: n}
		}
		e := Event{ID: id, Type: typ, UserID: user, OccurredAt: at.Add(time.Duration(n % 1e12)), Actor: actor,
			Reason: reason, CommandID: cmd, CorrelationID: corr, Data: p}
		got, gerr := Encode(e)
		env := RawEnvelope{ID: e.ID, Type: e.Type, UserID: e.UserID, OccurredAt: e.OccurredAt.UTC(), Actor: e.Actor,
			Reason: e.Reason, CommandID: e.CommandID, CorrelationID: e.CorrelationID}
		want, werr := encodeJSON(env, utcPayload(p))
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("%#v: fast error %v, encoding/json error %v", e, gerr, werr)
		}
		if string(got) != string(want) {
			t.Fatalf("%#v:\nfast:          %s\nencoding/json: %s", e, got, want)
		}
		gp, gerr := MarshalPayload(p)
		wp, werr := json.Marshal(p)
		if (gerr == nil) != (werr == nil) || string(gp) != string(wp) {
			t.Fatalf("MarshalPayload(%#v) = %s, %v; encoding/json %s, %v", p, gp, gerr, wp, werr)
		}
	})
}
