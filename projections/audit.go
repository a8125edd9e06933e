package projections

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/userlife/userlife/events"
)

// AuditEvent is a row of the audit projection: one per event, kept forever.
type AuditEvent struct {
	Seq           uint64          `json:"seq"`
	EventID       string          `json:"event_id"`
	Type          events.Type     `json:"type"`
	UserID        string          `json:"user_id"`
	Actor         string          `json:"actor"`
	Reason        string          `json:"reason,omitempty"`
	CommandID     string          `json:"command_id"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	OccurredAt    time.Time       `json:"occurred_at"`
	Data          json.RawMessage `json:"data"`
}

// auditReducers lists the event types the audit projection records: all
// of them, each the same way.
var auditReducers = func() map[events.Type]func(events.Event) (AuditEvent, error) {
	m := make(map[events.Type]func(events.Event) (AuditEvent, error))
	for _, t := range events.Types() {
		m[t] = auditRow
	}
	return m
}()

func auditRow(e events.Event) (AuditEvent, error) {
	data, err := events.MarshalPayload(e.Data)
	if err != nil {
		return AuditEvent{}, fmt.Errorf("audit: encode %s data: %w", e.Type, err)
	}
	return AuditEvent{
		Seq: e.Seq, EventID: e.ID, Type: e.Type, UserID: e.UserID, Actor: e.Actor, Reason: e.Reason,
		CommandID: e.CommandID, CorrelationID: e.CorrelationID, OccurredAt: e.OccurredAt, Data: data,
	}, nil
}

// ReduceAudit returns the audit row of e (with Seq set).
func ReduceAudit(e events.Event) (AuditEvent, error) {
	r, ok := auditReducers[e.Type]
	if !ok {
		return AuditEvent{}, fmt.Errorf("audit: %w: %s", ErrNoReducer, e.Type)
	}
	return r(e)
}
