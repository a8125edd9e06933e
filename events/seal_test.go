package events

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSealOpenRoundTrip(t *testing.T) {
	key, err := NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	e := Event{ID: "e1", Type: TypeUserRegistered, UserID: "u1", OccurredAt: time.Unix(1, 0).UTC(), Actor: "a", CommandID: "c1",
		Data: UserRegistered{Email: "Ann@example.com"}}
	sealed, err := e.Seal(key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Encode(sealed)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("Ann@example.com")) || bytes.Contains(b, []byte(`"email"`)) {
		t.Fatalf("stored form shows the email: %s", b)
	}
	dec, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !dec.Sealed() {
		t.Fatalf("decoded event is not sealed: %+v", dec)
	}
	opened, err := dec.Open(key)
	if err != nil {
		t.Fatal(err)
	}
	if got := opened.Data.(UserRegistered).Email; got != "Ann@example.com" {
		t.Fatalf("opened email = %q", got)
	}
	// Encoding an opened event writes only the sealed form again.
	b2, err := Encode(opened)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Fatalf("re-encoded opened event differs:\n%s\n%s", b, b2)
	}
	erased, err := dec.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := erased.Data.(UserRegistered).Email; got != Erased {
		t.Fatalf("email without key = %q, want %q", got, Erased)
	}
}

func TestOpenRefusesMovedOrTamperedCiphertext(t *testing.T) {
	key, _ := NewDataKey()
	other, _ := NewDataKey()
	s, err := SealField(key, "u1", "email", "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	tampered := s[:len(s)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(s, "AA")]
	for name, c := range map[string]struct {
		key          []byte
		user, sealed string
	}{
		"other user": {key, "u2", s},
		"other key":  {other, "u1", s},
		"tampered":   {key, "u1", tampered},
		"not sealed": {key, "u1", "ann@example.com"},
		"not base64": {key, "u1", "v1:***"},
		"too short":  {key, "u1", "v1:AAAA"},
	} {
		if _, err := OpenField(c.key, c.user, "email", c.sealed); !errors.Is(err, ErrUnsealable) {
			t.Errorf("%s: err = %v, want ErrUnsealable", name, err)
		}
	}
	if _, err := OpenField([]byte("short"), "u1", "email", s); err == nil {
		t.Error("a 5-byte key was accepted")
	}
}

func TestSealLeavesOtherEventsAlone(t *testing.T) {
	key, _ := NewDataKey()
	e := Event{Type: TypeUserDisabled, UserID: "u1", Data: UserDisabled{RevokedBefore: time.Unix(5, 0).UTC()}}
	s, err := e.Seal(key)
	if err != nil || s.Data != e.Data || s.Sealed() {
		t.Fatalf("Seal changed a UserDisabled: %+v %v", s, err)
	}
	o, err := e.Open(nil)
	if err != nil || o.Data != e.Data {
		t.Fatalf("Open changed a UserDisabled: %+v %v", o, err)
	}
}

func FuzzOpenField(f *testing.F) {
	key, _ := NewDataKey()
	s, _ := SealField(key, "u1", "email", "ann@example.com")
	f.Add("u1", s)
	f.Add("u1", "v1:")
	f.Add("", "garbage")
	f.Fuzz(func(t *testing.T, user, sealed string) {
		got, err := OpenField(key, user, "email", sealed)
		if err == nil && (user != "u1" || got != "ann@example.com") {
			t.Fatalf("opened %q for user %q", got, user)
		}
	})
}

func BenchmarkSealField(b *testing.B) {
	key, _ := NewDataKey()
	for b.Loop() {
		if _, err := SealField(key, "0195924c-1111-7abc-8def-0123456789ab", "email", "ann.lee@example.com"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenField(b *testing.B) {
	key, _ := NewDataKey()
	s, _ := SealField(key, "0195924c-1111-7abc-8def-0123456789ab", "email", "ann.lee@example.com")
	for b.Loop() {
		if _, err := OpenField(key, "0195924c-1111-7abc-8def-0123456789ab", "email", s); err != nil {
			b.Fatal(err)
		}
	}
}
