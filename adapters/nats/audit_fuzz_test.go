package nats

import (
	"encoding/json"
	"testing"
)

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

// FuzzReadHead: the audit filters read an envelope's time and actor
// exactly as encoding/json does, and refuse what it refuses.
func FuzzReadHead(f *testing.F) {
	for _, s := range []string{
		`{"id":"e1","type":"UserDisabled","user_id":"u1","occurred_at":"2026-05-01T12:00:00Z","actor":"ann","data":{}}`,
		`{"id":5,"occurred_at":"2026-05-01T12:00:00+02:00","actor":"ann"}`, `{"Actor":"x","actor":"y"}`,
		`{"actor":null}`, `{"occurred_at":"yesterday"}`, `{"actor":"a\u0062"}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want envelopeHead
		werr := json.Unmarshal(b, &want)
		got, ok := readHead(&Record{Data: b})
		if ok != (werr == nil) {
			t.Fatalf("%q: readHead ok=%v, encoding/json error %v", b, ok, werr)
		}
		if ok && (got.Actor != want.Actor || !got.OccurredAt.Equal(want.OccurredAt)) {
			t.Fatalf("%q: readHead %+v, encoding/json %+v", b, got, want)
		}
	})
}
