package nats

import (
	"encoding/json"
	"testing"

	"github.com/userlife/userlife/projections/revocation"
)

// FuzzDecodeEntry: whatever lands on a revocation view key, decodeEntry
// either refuses it or returns an entry of that key, in a known state,
// with a revision, that encodes back to an accepted value.
func FuzzDecodeEntry(f *testing.F) {
	f.Add("u-1", []byte(`{"user_id":"u-1","state":"disabled","revoked_before":"2026-01-01T00:00:00Z","revision":3}`))
	f.Add("u-1", []byte(`{"user_id":"u-1","state":"confirmed","revoked_sessions":["s1"],"revision":9}`))
	f.Add("u-1", []byte(`{"type":"io.nats.jetstream.api.v1.account_info_response"}`))
	f.Add("u-1", []byte(`{"user_id":"u-2","state":"confirmed","revision":1}`))
	f.Add("u-1", []byte(`+OK`))
	f.Fuzz(func(t *testing.T, key string, data []byte) {
		e, err := decodeEntry(key, data)
		if err != nil {
			return
		}
		switch e.State {
		case revocation.StatePending, revocation.StateConfirmed, revocation.StateDisabled, revocation.StateDeleted:
		default:
			t.Fatalf("accepted state %q", e.State)
		}
		if e.UserID != key || e.Revision == 0 {
			t.Fatalf("accepted %+v under key %q", e, key)
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeEntry(key, b); err != nil {
			t.Fatalf("re-encoded %s refused: %v", b, err)
		}
	})
}
