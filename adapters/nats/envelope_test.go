package nats

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzReadEnvelope: the reflection-free reader gives exactly what
// encoding/json gives, or the same refusal.
func FuzzReadEnvelope(f *testing.F) {
	golden, _ := filepath.Glob("../../events/testdata/golden/*.json")
	for _, p := range golden {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{}`, `{"id":"a\"b","type":"T","user_id":"u","data":{"x":"}"}}`, `{"Actor":"x","actor":"y"}`,
		`{"actor":null,"reason":7}`, `{"data":[1,2]}`, `{"data":{"a":tru}}`, ` { "id" : "x" , "extra" : {"n":[1,{"m":"\u00e9"}]} } `,
		"{\"actor\":\"\xff\"}", `{"occurred_at":"2026-05-01T12:00:00+02:00"}`, `{"occurred_at":"yesterday"}`, `{"id":"x"`, `{"id":"x"}x`,
		`{"id":"tab	in"}`, `{"a\u0063tor":"x"}`, `[]`, `"s"`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want envelopeRow
		werr := json.Unmarshal(b, &want)
		var got envelopeRow
		gerr := readEnvelope(b, &got)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: readEnvelope error %v, encoding/json error %v", b, gerr, werr)
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

// FuzzEmailData: the direct form equals encoding/json's.
func FuzzEmailData(f *testing.F) {
	for _, s := range []string{"ann@example.com", "[erased]", `a"b`, "a<b>&c", "é", "\x00", "tab\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, email string) {
		want, _ := json.Marshal(struct {
			Email string `json:"email"`
		}{email})
		if got := emailData(email); string(got) != string(want) {
			t.Fatalf("emailData(%q) = %s, want %s", email, got, want)
		}
	})
}

// FuzzSealedEmail: the direct read equals encoding/json's whenever it
// answers.
func FuzzSealedEmail(f *testing.F) {
	for _, s := range []string{`{"email_sealed":"v1:abc_-9"}`, `{"email_sealed":"v1:a\u0062"}`, `{"email_sealed":""}`, `{"email_sealed":"x"} `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := sealedEmail(b)
		if !ok {
			return
		}
		var d struct {
			EmailSealed string `json:"email_sealed"`
		}
		if err := json.Unmarshal(b, &d); err != nil || d.EmailSealed != got {
			t.Fatalf("sealedEmail(%q) = %q, encoding/json %q (%v)", b, got, d.EmailSealed, err)
		}
	})
}
