package domain_test

import (
	"fmt"
	"time"

	"github.com/userlife/userlife/domain"
	"github.com/userlife/userlife/events"
)

// t0 is when every test history starts.
var t0 = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

// testDecider is a Decider whose clock and ids the test controls. It counts
// how often Decide consults them.
type testDecider struct {
	now      time.Time
	clockUse int
	ids      int
}

func (td *testDecider) decider() domain.Decider {
	return domain.Decider{
		Now:   func() time.Time { td.clockUse++; return td.now },
		NewID: func() string { td.ids++; return fmt.Sprintf("evt-%d", td.ids) },
	}
}

// history builds stored events for userID: one per payload, a minute apart
// from t0, with Seq 1, 2, ... and command ids hist-1, hist-2, ...
func history(userID string, ps ...events.Payload) []events.Event {
	evs := make([]events.Event, len(ps))
	for i, p := range ps {
		evs[i] = events.Event{
			ID:         fmt.Sprintf("hist-evt-%d", i+1),
			Type:       p.EventType(),
			UserID:     userID,
			OccurredAt: t0.Add(time.Duration(i) * time.Minute),
			Actor:      "ops",
			CommandID:  fmt.Sprintf("hist-%d", i+1),
			Data:       p,
			Seq:        uint64(i + 1),
		}
	}
	return evs
}

// meta is valid CommandMeta for userID.
func meta(userID, commandID string) events.CommandMeta {
	return events.CommandMeta{CommandID: commandID, UserID: userID, Actor: "ops@example.com", Reason: "ticket 7", CorrelationID: "corr-1"}
}

// newCommand returns a valid command named name for userID.
func newCommand(name, userID, commandID string) events.Command {
	cmd := events.NewCommand(name)
	*cmd.Meta() = meta(userID, commandID)
	switch c := cmd.(type) {
	case *events.RegisterUser:
		c.Email = "Ada@Example.com"
	case *events.RevokeSession:
		c.SessionID = "sid-1"
	case *events.RecordDataPurged:
		c.Service, c.ItemsRemoved = "todo", 3
	}
	return cmd
}

// payloads returns the payloads of evs, to extend a history.
func payloads(evs []events.Event) []events.Payload {
	ps := make([]events.Payload, len(evs))
	for i, e := range evs {
		ps[i] = e.Data
	}
	return ps
}
