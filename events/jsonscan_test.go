package events

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
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
