package nats

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/userlife/userlife/domain"
	"github.com/userlife/userlife/events"
)

// loadBatch is how many events one direct batch get returns.
const loadBatch = 256

// EventStore keeps each user's events on USERLIFE_EVENTS under
// userlife.events.<user_id>.<EventType>. A user's version is the stream
// sequence of its last event.
type EventStore struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	keys   *KeyVault
	// Source is the CloudEvents ce-source attribute.
	Source string
}

var _ domain.IncrementalStore = (*EventStore)(nil)

// NewEventStore binds to the provisioned event stream.
func NewEventStore(ctx context.Context, js jetstream.JetStream) (*EventStore, error) {
	s, err := js.Stream(ctx, EventsStream)
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", EventsStream, err)
	}
	keys, err := NewKeyVault(ctx, js)
	if err != nil {
		return nil, err
	}
	return &EventStore{js: js, stream: s, keys: keys, Source: events.DefaultSource}, nil
}

// Keys is the vault the store seals personal fields with.
func (s *EventStore) Keys() *KeyVault { return s.keys }

// Load reads the user's events with direct batch gets: no consumer is
// created, and any server replica may answer (a stale answer only makes the
// next append conflict).
func (s *EventStore) Load(ctx context.Context, userID string) ([]events.Event, error) {
	return s.LoadAfter(ctx, userID, 0)
}

// LoadAfter reads the user's events with a sequence above after: what a
// cached user state is missing.
//
// The server serves a batch get filtered by a wildcard
// (userlife.events.<id>.*) by walking the message block: with one subject
// per user and event type, its index heuristics pick a linear scan, about
// 1 ms on a block of 40,000 events. So LoadAfter first asks for the last
// message of each of the user's subjects (answered from the per-subject
// index), stops there if nothing is newer than after, and otherwise reads
// each subject that has newer events with a literal filter, which the
// server finds through its index.
func (s *EventStore) LoadAfter(ctx context.Context, userID string, after uint64) ([]events.Event, error) {
	lasts, err := jetstreamext.GetLastMsgsFor(ctx, s.js, EventsStream, []string{events.UserEventsFilter(userID)})
	if err != nil {
		return nil, fmt.Errorf("load user %s: %w", userID, err)
	}
	var subjects []string
	var out []events.Event
	answered := false
	for m, err := range lasts {
		answered = true
		if errors.Is(err, jetstreamext.ErrNoMessages) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("load user %s: last events: %w", userID, err)
		}
		if m.Sequence <= after {
			continue
		}
		// An event that happens once per user is the whole of its subject:
		// the last message is the only one.
		if _, t, ok := events.ParseEventSubject(m.Subject); ok && t.OncePerUser() {
			e, err := decodeStored(m.Data, m.Sequence)
			if err != nil {
				return nil, fmt.Errorf("load user %s: event at seq %d: %w", userID, m.Sequence, err)
			}
			out = append(out, e)
			continue
		}
		subjects = append(subjects, m.Subject)
	}
	if !answered {
		// The iterator ends silently on a deadline: an unanswered request
		// must not read as "no events".
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("load user %s: %w", userID, err)
		}
		return nil, fmt.Errorf("load user %s: no answer from stream %s: %w", userID, EventsStream, nats.ErrTimeout)
	}
	for _, subj := range subjects {
		evs, err := s.loadSubject(ctx, userID, subj, after+1)
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
	if len(out) > 1 {
		slices.SortFunc(out, func(a, b events.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	}
	return s.open(ctx, userID, out)
}

// open makes the sealed fields of a user's events readable. A deleted
// user whose data key is still there (the service stopped between
// appending UserDeleted and destroying the key) has it destroyed now.
func (s *EventStore) open(ctx context.Context, userID string, evs []events.Event) ([]events.Event, error) {
	deleted := false
	for _, e := range evs {
		deleted = deleted || e.Type == events.TypeUserDeleted
	}
	for i, e := range evs {
		if !e.Sealed() {
			continue
		}
		key, err := s.keys.Key(ctx, userID)
		if err != nil {
			return nil, fmt.Errorf("load user %s: %w", userID, err)
		}
		if key != nil && deleted {
			if err := s.keys.Destroy(ctx, userID); err != nil {
				return nil, fmt.Errorf("load user %s: %w", userID, err)
			}
			key = nil
		}
		o, err := e.Open(key)
		if err != nil {
			return nil, fmt.Errorf("load user %s: event at seq %d: %w", userID, e.Seq, err)
		}
		evs[i] = o
	}
	return evs, nil
}

// loadSubject reads one subject from seq on, a batch at a time.
func (s *EventStore) loadSubject(ctx context.Context, userID, subject string, seq uint64) ([]events.Event, error) {
	var out []events.Event
	for {
		msgs, err := jetstreamext.GetBatch(ctx, s.js, EventsStream, loadBatch,
			jetstreamext.GetBatchSubject(subject), jetstreamext.GetBatchSeq(seq))
		if err != nil {
			return nil, fmt.Errorf("load user %s: %w", userID, err)
		}
		var pending uint64
		n := 0
		for m, err := range msgs {
			if errors.Is(err, jetstreamext.ErrNoMessages) {
				return out, nil
			}
			if err != nil {
				return nil, fmt.Errorf("load user %s: %w", userID, err)
			}
			e, err := decodeStored(m.Data, m.Sequence)
			if err != nil {
				return nil, fmt.Errorf("load user %s: event at seq %d: %w", userID, m.Sequence, err)
			}
			out = append(out, e)
			seq = m.Sequence + 1
			pending, _ = strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			n++
		}
		if n == 0 {
			// The server answers "no messages" (handled above) when nothing
			// is left; an iteration that ends with nothing is GetBatch giving
			// up silently on a deadline or a silent server. Returning what we
			// have would present a cut history as the whole one (an existing
			// user as unknown).
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("load user %s: %w", userID, err)
			}
			return nil, fmt.Errorf("load user %s: no answer from stream %s after seq %d: %w", userID, EventsStream, seq-1, nats.ErrTimeout)
		}
		if pending == 0 {
			return out, nil
		}
	}
}

func decodeStored(data []byte, seq uint64) (events.Event, error) {
	e, err := events.Decode(data)
	if err != nil {
		return events.Event{}, err
	}
	e.Seq = seq
	return e, nil
}

// LastSeq returns the user's version: the sequence of its last event, 0 if
// it has none.
func (s *EventStore) LastSeq(ctx context.Context, userID string) (uint64, error) {
	m, err := s.stream.GetLastMsgForSubject(ctx, events.UserEventsFilter(userID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("last event of user %s: %w", userID, err)
	}
	return m.Sequence, nil
}

// MsgID is the Nats-Msg-Id of the n-th event a command appends.
func MsgID(commandID string, n int) string { return commandID + ":" + strconv.Itoa(n) }

// Append publishes evs one by one, each expecting the user's previous
// sequence. Events of one command are appended in order, never pipelined.
func (s *EventStore) Append(ctx context.Context, userID string, expected uint64, evs []events.Event) (uint64, error) {
	for i, e := range evs {
		if e.UserID != userID {
			return 0, fmt.Errorf("append to user %s: event is about user %s", userID, e.UserID)
		}
		sealed, err := s.keys.Seal(ctx, e)
		if err != nil {
			return 0, fmt.Errorf("append %s to user %s: %w", e.Type, userID, err)
		}
		seq, err := s.appendOne(ctx, sealed, expected, MsgID(e.CommandID, i))
		if err != nil {
			return 0, err
		}
		expected = seq
		if e.Type == events.TypeUserDeleted {
			// The user's personal data in the log becomes unreadable now. If
			// this fails, the next load of the user destroys the key.
			if err := s.keys.Destroy(ctx, userID); err != nil {
				return 0, fmt.Errorf("user %s deleted at seq %d: %w", userID, seq, err)
			}
		}
	}
	return expected, nil
}

func (s *EventStore) appendOne(ctx context.Context, e events.Event, expected uint64, msgID string) (uint64, error) {
	data, err := events.Encode(e)
	if err != nil {
		return 0, err
	}
	msg := nats.NewMsg(events.EventSubject(e.UserID, e.Type))
	msg.Data = data
	for k, v := range events.CloudEventsHeaders(e, s.Source) {
		msg.Header.Set(k, v)
	}
	msg.Header.Set(jetstream.MsgIDHeader, msgID)
	msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(expected, 10))
	msg.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, events.UserEventsFilter(e.UserID))

	backoff := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ack, err := s.js.PublishMsg(ctx, msg)
		if err == nil {
			// A duplicate ack carries the sequence of the first copy.
			return ack.Sequence, nil
		}
		if isConflict(err) {
			// A retry after a lost ack also lands here on a single server:
			// the expected-sequence check runs before de-duplication.
			if seq, ok := s.lastIsOurs(ctx, e.UserID, msgID); ok {
				return seq, nil
			}
			return 0, fmt.Errorf("append %s to user %s at version %d: %w", e.Type, e.UserID, expected, domain.ErrConflict)
		}
		if !retryablePublishErr(err) || attempt >= 6 || ctx.Err() != nil {
			return 0, fmt.Errorf("append %s to user %s: %w", e.Type, e.UserID, err)
		}
		// The ack may be lost while the write landed: publishing again with
		// the same Nats-Msg-Id is safe (duplicate ack or a conflict that
		// lastIsOurs resolves).
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// lastIsOurs reports whether the user's last event carries msgID.
func (s *EventStore) lastIsOurs(ctx context.Context, userID, msgID string) (uint64, bool) {
	m, err := s.stream.GetLastMsgForSubject(ctx, events.UserEventsFilter(userID))
	if err != nil || m.Header.Get(jetstream.MsgIDHeader) != msgID {
		return 0, false
	}
	return m.Sequence, true
}

func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

func retryablePublishErr(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrDisconnected)
}
