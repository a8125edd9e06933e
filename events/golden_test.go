package events_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/userlife/userlife/events"
)

// update rewrites the golden files from the current encoder:
//
//	go test ./events -update
//
// A changed golden file is a change of the published wire format: review
// the diff as a contract change, not as a test fixture.
var update = flag.Bool("update", false, "rewrite testdata/golden/*.json from the current encoder")

const goldenDir = "testdata/golden"

var (
	fixtureAt      = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)
	fixtureRevoked = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)
)

// goldenEvents holds one fixed event per type. Optional envelope fields
// are set on some and left out on others so the files pin omitempty too.
func goldenEvents() map[events.Type]events.Event {
	base := func(p events.Payload, reason, correlation string) events.Event {
		return events.Event{
			ID:            "0195924c-7a3b-7c1d-9e2f-3a4b5c6d7e8f",
			Type:          p.EventType(),
			UserID:        "0195924c-1111-7abc-8def-0123456789ab",
			OccurredAt:    fixtureAt,
			Actor:         "admin@example.com",
			Reason:        reason,
			CommandID:     "cmd-0195924c-2222",
			CorrelationID: correlation,
			Data:          p,
		}
	}
	return map[events.Type]events.Event{
		events.TypeUserRegistered:  base(events.UserRegistered{Email: "Ada.Lovelace@Example.com"}, "", ""),
		events.TypeUserConfirmed:   base(events.UserConfirmed{}, "", "signup-42"),
		events.TypeUserDisabled:    base(events.UserDisabled{RevokedBefore: fixtureRevoked}, "abuse report SUP-1234", "case-7"),
		events.TypeUserEnabled:     base(events.UserEnabled{}, "appeal accepted", ""),
		events.TypeUserDeleted:     base(events.UserDeleted{RevokedBefore: fixtureRevoked}, "GDPR erasure request", "gdpr-99"),
		events.TypeSessionsRevoked: base(events.SessionsRevoked{RevokedBefore: fixtureRevoked}, "laptop stolen", ""),
		events.TypeSessionRevoked:  base(events.SessionRevoked{SessionID: "sid-7f3a9c2e"}, "phone lost", "case-8"),
		events.TypeUserDataPurged:  base(events.UserDataPurged{Service: "todo", ItemsRemoved: 3}, "", "gdpr-99"),
	}
}

func goldenPath(t events.Type) string { return filepath.Join(goldenDir, string(t)+".json") }

func TestGolden(t *testing.T) {
	t.Parallel()
	fixtures := goldenEvents()
	// The group returns once every parallel subtest is done, so the file
	// listing below sees what -update wrote.
	t.Run("types", func(t *testing.T) {
		for _, typ := range events.Types() {
			t.Run(string(typ), func(t *testing.T) {
				t.Parallel()
				e, ok := fixtures[typ]
				if !ok {
					t.Fatalf("no golden fixture for event type %s: add one to goldenEvents", typ)
				}
				got, err := events.Encode(e)
				if err != nil {
					t.Fatalf("Encode: %v", err)
				}
				got = append(got, '\n')
				path := goldenPath(typ)
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("read golden file (run `go test ./events -update` to create it): %v", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("Encode(%s) differs from %s:\ngot:  %s\nwant: %s", typ, path, got, want)
				}

				decoded, err := events.Decode(want)
				if err != nil {
					t.Fatalf("Decode(golden %s): %v", path, err)
				}
				if !reflect.DeepEqual(decoded, e) {
					t.Errorf("Decode(golden %s):\ngot:  %#v\nwant: %#v", path, decoded, e)
				}
			})
		}
	})
	t.Run("one file per type", func(t *testing.T) { checkGoldenFiles(t) })
}

// checkGoldenFiles fails when a golden file has no event type (a type was
// renamed or removed: a breaking change) or a type has no file.
func checkGoldenFiles(t *testing.T) {
	t.Helper()
	entries, err := os.ReadDir(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, strings.TrimSuffix(e.Name(), ".json"))
	}
	var want []string
	for _, typ := range events.Types() {
		want = append(want, string(typ))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("golden files %v, want one per event type %v", got, want)
	}
}
