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
