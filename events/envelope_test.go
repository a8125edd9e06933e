package events_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/userlife/userlife/events"
)

// envelopeJSON is a valid UserDisabled event; tests break one part of it.
const envelopeJSON = `{"id":"e1","type":"UserDisabled","user_id":"u1","occurred_at":"2025-03-14T09:26:53Z","actor":"ops","command_id":"c1","data":{"revoked_before":"2025-03-14T09:26:53Z"}}`

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		want  error
	}{
		{"unknown type", `{"id":"e1","type":"UserRenamed","user_id":"u1","actor":"ops","command_id":"c1","data":{"name":"x"}}`, events.ErrUnknownEventType},
		{"empty input", ``, events.ErrMalformedEvent},
		{"not JSON", `UserDisabled u1`, events.ErrMalformedEvent},
		{"truncated JSON", envelopeJSON[:40], events.ErrMalformedEvent},
		{"JSON array", `[]`, events.ErrMalformedEvent},
		{"JSON null", `null`, events.ErrMalformedEvent},
		{"no type", `{"id":"e1","user_id":"u1","data":{}}`, events.ErrMalformedEvent},
		{"type not a string", `{"id":"e1","type":5,"user_id":"u1","data":{}}`, events.ErrMalformedEvent},
		{"missing data", `{"id":"e1","type":"UserConfirmed","user_id":"u1","actor":"ops","command_id":"c1"}`, events.ErrMalformedEvent},
		{"null data", `{"id":"e1","type":"UserConfirmed","user_id":"u1","data":null}`, events.ErrMalformedEvent},
		{"data is an array", `{"id":"e1","type":"UserConfirmed","user_id":"u1","data":[]}`, events.ErrMalformedEvent},
		{"data field of wrong type", `{"id":"e1","type":"UserRegistered","user_id":"u1","data":{"email":5}}`, events.ErrMalformedEvent},
		{"revoked_before not a time", `{"id":"e1","type":"UserDisabled","user_id":"u1","data":{"revoked_before":"yesterday"}}`, events.ErrMalformedEvent},
		{"occurred_at not a time", `{"id":"e1","type":"UserConfirmed","user_id":"u1","occurred_at":"now","data":{}}`, events.ErrMalformedEvent},
		{"missing user_id", `{"id":"e1","type":"UserConfirmed","data":{}}`, events.ErrMalformedEvent},
		{"user_id with dot", `{"id":"e1","type":"UserConfirmed","user_id":"a.b","data":{}}`, events.ErrMalformedEvent},
		{"user_id wildcard", `{"id":"e1","type":"UserConfirmed","user_id":"*","data":{}}`, events.ErrMalformedEvent},
		{"user_id too long", `{"id":"e1","type":"UserConfirmed","user_id":"` + strings.Repeat("a", 65) + `","data":{}}`, events.ErrMalformedEvent},
		{"user_id not a string", `{"id":"e1","type":"UserConfirmed","user_id":7,"data":{}}`, events.ErrMalformedEvent},
		// occurred_at is written in UTC; an offset that pushes the UTC
		// instant out of RFC 3339's years could be read but never written.
		{"occurred_at beyond year 9999 in UTC", `{"id":"e1","type":"UserConfirmed","user_id":"u1","occurred_at":"9999-12-31T23:00:00-05:00","data":{}}`, events.ErrMalformedEvent},
		{"occurred_at before year 0 in UTC", `{"id":"e1","type":"UserConfirmed","user_id":"u1","occurred_at":"0000-01-01T00:00:00+01:00","data":{}}`, events.ErrMalformedEvent},
		{"revoked_before beyond year 9999 in UTC", `{"id":"e1","type":"SessionsRevoked","user_id":"u1","data":{"revoked_before":"9999-12-31T23:00:00-05:00"}}`, events.ErrMalformedEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := events.Decode([]byte(tt.input))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode(%s) error = %v, want errors.Is %v", tt.input, err, tt.want)
			}
			if !reflect.DeepEqual(got, events.Event{}) {
				t.Errorf("Decode(%s) returned %#v with an error, want the zero Event", tt.input, got)
			}
			other := events.ErrMalformedEvent
			if tt.want == events.ErrMalformedEvent {
				other = events.ErrUnknownEventType
			}
			if errors.Is(err, other) {
				t.Errorf("Decode(%s) error = %v also matches %v", tt.input, err, other)
			}
		})
	}
}

// TestDecodeIgnoresUnknownFields pins forward compatibility: a later
// version of the contract adds fields, and an older reader keeps working.
func TestDecodeIgnoresUnknownFields(t *testing.T) {
	t.Parallel()
	input := `{"id":"e1","type":"UserDisabled","user_id":"u1","occurred_at":"2025-03-14T09:26:53Z",` +
		`"actor":"ops","reason":"abuse","command_id":"c1","correlation_id":"k1","tenant":"acme","schema":2,` +
		`"data":{"revoked_before":"2025-03-14T09:26:53Z","ticket":{"id":7},"notify":true}}`
	got, err := events.Decode([]byte(input))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	at := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	want := events.Event{
		ID: "e1", Type: events.TypeUserDisabled, UserID: "u1", OccurredAt: at,
		Actor: "ops", Reason: "abuse", CommandID: "c1", CorrelationID: "k1",
		Data: events.UserDisabled{RevokedBefore: at},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode:\ngot:  %#v\nwant: %#v", got, want)
	}
}

func TestDecodeReturnsValuePayloads(t *testing.T) {
	t.Parallel()
	for typ, e := range goldenEvents() {
		b, err := events.Encode(e)
		if err != nil {
			t.Fatalf("Encode(%s): %v", typ, err)
		}
		got, err := events.Decode(b)
		if err != nil {
			t.Fatalf("Decode(%s): %v", typ, err)
		}
		if gotT, wantT := reflect.TypeOf(got.Data), reflect.TypeOf(e.Data); gotT != wantT {
			t.Errorf("Decode(%s).Data is %v, want %v (a value, not a pointer)", typ, gotT, wantT)
		}
	}
}

func TestDecodeNormalizesTimesToUTC(t *testing.T) {
	t.Parallel()
	input := `{"id":"e1","type":"SessionsRevoked","user_id":"u1","occurred_at":"2025-03-14T11:26:53+02:00","data":{"revoked_before":"2025-03-14T11:26:53.5+02:00"}}`
	got, err := events.Decode([]byte(input))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if want := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC); got.OccurredAt != want {
		t.Errorf("OccurredAt = %v, want %v", got.OccurredAt, want)
	}
	rb, _ := got.RevokedBefore()
	if want := time.Date(2025, 3, 14, 9, 26, 53, 5e8, time.UTC); rb != want {
		t.Errorf("RevokedBefore = %v, want %v", rb, want)
	}
}

func TestEncodeRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		e    events.Event
	}{
		{"no payload", events.Event{Type: events.TypeUserConfirmed, UserID: "u1"}},
		{"payload of another type", events.Event{Type: events.TypeUserDeleted, UserID: "u1", Data: events.UserDisabled{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if b, err := events.Encode(tt.e); err == nil {
				t.Errorf("Encode(%#v) = %s, want an error", tt.e, b)
			}
		})
	}
}

func TestEncodeWritesUTC(t *testing.T) {
	t.Parallel()
	zone := time.FixedZone("CEST", 2*60*60)
	local := time.Date(2025, 3, 14, 11, 26, 53, 0, zone)
	e := events.Event{
		ID: "e1", Type: events.TypeUserDeleted, UserID: "u1", OccurredAt: local,
		Actor: "ops", CommandID: "c1", Data: events.UserDeleted{RevokedBefore: local},
	}
	b, err := events.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	want := `{"id":"e1","type":"UserDeleted","user_id":"u1","occurred_at":"2025-03-14T09:26:53Z","actor":"ops","command_id":"c1","data":{"revoked_before":"2025-03-14T09:26:53Z"}}`
	if got != want {
		t.Errorf("Encode:\ngot:  %s\nwant: %s", got, want)
	}
}

func TestRevokedBefore(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		p      events.Payload
		want   time.Time
		wantOK bool
	}{
		{events.UserRegistered{Email: "a@example.com"}, time.Time{}, false},
		{events.UserConfirmed{}, time.Time{}, false},
		{events.UserDisabled{RevokedBefore: at}, at, true},
		{events.UserEnabled{}, time.Time{}, false},
		{events.UserDeleted{RevokedBefore: at}, at, true},
		{events.SessionsRevoked{RevokedBefore: at}, at, true},
		{events.SessionRevoked{SessionID: "s1"}, time.Time{}, false},
		{events.UserDataPurged{Service: "todo", ItemsRemoved: 3}, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.p.EventType()), func(t *testing.T) {
			t.Parallel()
			got, ok := events.Event{Type: tt.p.EventType(), Data: tt.p}.RevokedBefore()
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("RevokedBefore() = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestTypesMatchPayloads(t *testing.T) {
	t.Parallel()
	fixtures := goldenEvents()
	if got, want := len(fixtures), len(events.Types()); got != want {
		t.Fatalf("%d golden fixtures, want %d (one per type)", got, want)
	}
	for _, typ := range events.Types() {
		if got := fixtures[typ].Data.EventType(); got != typ {
			t.Errorf("payload of %s reports type %s", typ, got)
		}
	}
}
