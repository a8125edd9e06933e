package watermill

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	wm "github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"

	"github.com/userlife/userlife/events"
)

// Metadata keys the intake sets on every Watermill message.
const (
	mdName         = "name"          // command name, from the subject
	mdSubject      = "subject"       // NATS subject
	mdMsgID        = "nats_msg_id"   // Nats-Msg-Id header, if any
	mdStreamSeq    = "stream_seq"    // sequence in USERLIFE_CMD
	mdTimestamp    = "timestamp"     // when the stream stored it, RFC 3339
	mdNumDelivered = "num_delivered" // delivery attempt, from 1
)

// rawUnmarshaler turns any NATS message into a Watermill message and never
// fails: a command that plain `nats pub` sent has no Watermill headers, and
// a malformed one must reach the handler chain to get an outcome and land in
// the poison stream (watermill-nats leaves a message it cannot unmarshal
// unacked, to be redelivered forever).
type rawUnmarshaler struct{}

var _ wmnats.Unmarshaler = rawUnmarshaler{}

func (rawUnmarshaler) Unmarshal(m *nats.Msg) (*message.Message, error) {
	msgID := m.Header.Get("Nats-Msg-Id")
	msg := message.NewMessage(msgID, m.Data)
	if msg.UUID == "" {
		msg.UUID = wm.NewUUID()
	}
	msg.Metadata.Set(mdSubject, m.Subject)
	msg.Metadata.Set(mdName, strings.TrimPrefix(m.Subject, events.CommandSubjectPrefix))
	msg.Metadata.Set(mdMsgID, msgID)
	if md, err := m.Metadata(); err == nil {
		msg.Metadata.Set(mdStreamSeq, strconv.FormatUint(md.Sequence.Stream, 10))
		msg.Metadata.Set(mdTimestamp, md.Timestamp.UTC().Format(time.RFC3339Nano))
		msg.Metadata.Set(mdNumDelivered, strconv.FormatUint(md.NumDelivered, 10))
	}
	return msg, nil
}

// commandMarshaler names commands by their contract name (never the Go type
// name) and reads the name from the subject, so no Watermill header is
// needed on the wire.
type commandMarshaler struct{}

var _ cqrs.CommandEventMarshaler = commandMarshaler{}

func (commandMarshaler) Marshal(v any) (*message.Message, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	msg := message.NewMessage(wm.NewUUID(), b)
	msg.Metadata.Set(mdName, commandMarshaler{}.Name(v))
	return msg, nil
}

func (commandMarshaler) Unmarshal(msg *message.Message, v any) error {
	cmd, ok := v.(events.Command)
	if !ok {
		return events.Errorf(events.CodeUnknownCommand, "%T is not a command", v)
	}
	return events.DecodeCommandInto(msg.Payload, cmd)
}

func (commandMarshaler) Name(v any) string {
	if cmd, ok := v.(events.Command); ok {
		return cmd.CommandName()
	}
	return ""
}

func (commandMarshaler) NameFromMessage(msg *message.Message) string {
	return msg.Metadata.Get(mdName)
}
