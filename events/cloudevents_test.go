package events_test

import (
	"maps"
	"testing"
	"time"

	"github.com/userlife/userlife/events"
)

func TestCloudEventsHeaders(t *testing.T) {
	t.Parallel()
	e := events.Event{
		ID:         "0195924c-7a3b-7c1d-9e2f-3a4b5c6d7e8f",
		Type:       events.TypeUserDeleted,
		UserID:     "u-42",
		OccurredAt: time.Date(2025, 3, 14, 11, 26, 53, 589793000, time.FixedZone("CEST", 2*60*60)),
		Data:       events.UserDeleted{},
	}
	tests := []struct {
		name, source, wantSource string
	}{
		{"default source", "", events.DefaultSource},
		{"configured source", "https://userlife.example.com/eu-1", "https://userlife.example.com/eu-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := events.CloudEventsHeaders(e, tt.source)
			want := map[string]string{
				"ce-specversion": "1.0",
				"ce-id":          "0195924c-7a3b-7c1d-9e2f-3a4b5c6d7e8f",
				"ce-type":        "io.userlife.UserDeleted",
				"ce-source":      tt.wantSource,
				"ce-time":        "2025-03-14T09:26:53.589793Z",
				"ce-subject":     "u-42",
				"content-type":   "application/json",
			}
			if !maps.Equal(got, want) {
				t.Errorf("CloudEventsHeaders:\ngot:  %v\nwant: %v", got, want)
			}
		})
	}
}
