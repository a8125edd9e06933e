package main

import (
	"errors"
	"strconv"

	wm "github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"

	"github.com/userlife/userlife/events"
)

// Metadata the unmarshaler puts on every Watermill message.
const (
	mdEventType    = "event_type"    // from the subject userlife.events.<user_id>.<type>
	mdStreamSeq    = "stream_seq"    // the event's sequence in USERLIFE_EVENTS
	mdNumDelivered = "num_delivered" // delivery attempt, from 1
)

// userDeleted is what the UserDeleted handler receives: the decoded event
// (envelope and payload, Seq set), or why it could not be decoded.
type userDeleted struct {
	events.Event
	DecodeErr error
}

// rawUnmarshaler turns a NATS message into a Watermill message and never
// fails: watermill-nats leaves a message it cannot unmarshal unacked, to be
// redelivered forever without ever reaching a handler.
type rawUnmarshaler struct{}

var _ wmnats.Unmarshaler = rawUnmarshaler{}

func (rawUnmarshaler) Unmarshal(m *nats.Msg) (*message.Message, error) {
	msg := message.NewMessage(wm.NewUUID(), m.Data)
	if _, typ, ok := events.ParseEventSubject(m.Subject); ok {
		msg.Metadata.Set(mdEventType, string(typ))
	}
	if md, err := m.Metadata(); err == nil {
		msg.Metadata.Set(mdStreamSeq, strconv.FormatUint(md.Sequence.Stream, 10))
		msg.Metadata.Set(mdNumDelivered, strconv.FormatUint(md.NumDelivered, 10))
	}
	return msg, nil
}

// eventMarshaler names events by their contract name (events.Type, never a
// Go type name) and decodes them with the events package.
type eventMarshaler struct{}

var _ cqrs.CommandEventMarshaler = eventMarshaler{}

func (eventMarshaler) Marshal(any) (*message.Message, error) {
	return nil, errors.New("todopurge publishes no events")
}

// Unmarshal never fails: an event that does not decode reaches the handler
// with DecodeErr set, which logs it and lets it go (retrying cannot help).
func (eventMarshaler) Unmarshal(msg *message.Message, v any) error {
	ev, ok := v.(*userDeleted)
	if !ok {
		return errors.New("todopurge handles UserDeleted only")
	}
	e, err := events.Decode(msg.Payload)
	if err != nil {
		ev.DecodeErr = err
		return nil
	}
	e.Seq, _ = strconv.ParseUint(msg.Metadata.Get(mdStreamSeq), 10, 64)
	ev.Event = e
	return nil
}

func (eventMarshaler) Name(v any) string {
	if _, ok := v.(*userDeleted); ok {
		return string(events.TypeUserDeleted)
	}
	return ""
}

func (eventMarshaler) NameFromMessage(msg *message.Message) string {
	return msg.Metadata.Get(mdEventType)
}
