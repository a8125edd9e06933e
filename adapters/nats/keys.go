package nats

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// KeysStream holds each user's data key: the key personal fields of the
// user's events are sealed with (events.SealField), one message on
// userlife.keys.<user_id>. Destroying the key when the user is deleted
// erases those fields from the event log, which is kept forever
// (crypto-shredding). It is a stream rather than a KV bucket because KV
// buckets deny message deletes: a purged KV value stays in the server's
// block files until they are compacted, while a secure delete overwrites
// the stored message with random bytes at once.
const KeysStream = "USERLIFE_KEYS"

// KeysSubject is the subject of a user's data key.
func KeysSubject(userID string) string { return "userlife.keys." + userID }

// KeyVault keeps users' data keys on the stream USERLIFE_KEYS.
type KeyVault struct {
	js     jetstream.JetStream
	stream jetstream.Stream
}

// NewKeyVault binds to the provisioned stream.
func NewKeyVault(ctx context.Context, js jetstream.JetStream) (*KeyVault, error) {
	s, err := js.Stream(ctx, KeysStream)
	if err != nil {
		return nil, fmt.Errorf("open stream %s (provision the streams with a current userlife): %w", KeysStream, err)
	}
	return &KeyVault{js: js, stream: s}, nil
}

// SealingKey returns the user's data key, creating it on first use. It
// tries to create the key first (a registration's usual case: one round
// trip) and reads the existing one when the user already has a key.
func (v *KeyVault) SealingKey(ctx context.Context, userID string) ([]byte, error) {
	for range 3 {
		fresh, err := events.NewDataKey()
		if err != nil {
			return nil, err
		}
		msg := nats.NewMsg(KeysSubject(userID))
		msg.Data = fresh
		msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
		_, err = v.js.PublishMsg(ctx, msg)
		if err == nil {
			return fresh, nil
		}
		if !isConflict(err) {
			return nil, fmt.Errorf("create data key of user %s: %w", userID, err)
		}
		// The user has a key (an earlier attempt, or another writer).
		key, err := v.Key(ctx, userID)
		if err != nil || key != nil {
			return key, err
		}
		// Destroyed meanwhile: try again.
	}
	return nil, fmt.Errorf("create data key of user %s: lost the race three times", userID)
}

// Key returns the user's data key, or nil when the user has none (never
// had one, or it was destroyed).
func (v *KeyVault) Key(ctx context.Context, userID string) ([]byte, error) {
	m, err := v.stream.GetLastMsgForSubject(ctx, KeysSubject(userID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read data key of user %s: %w", userID, err)
	}
	if len(m.Data) != events.DataKeySize {
		return nil, fmt.Errorf("data key of user %s has %d bytes, want %d", userID, len(m.Data), events.DataKeySize)
	}
	return m.Data, nil
}

// Destroy erases the user's data key for good: the stored message is
// overwritten with random bytes (a secure delete). Destroying a key that is
// already gone is not an error.
func (v *KeyVault) Destroy(ctx context.Context, userID string) error {
	m, err := v.stream.GetLastMsgForSubject(ctx, KeysSubject(userID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("destroy data key of user %s: %w", userID, err)
	}
	err = v.stream.SecureDeleteMsg(ctx, m.Sequence)
	if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) && !errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) {
		return fmt.Errorf("destroy data key of user %s: %w", userID, err)
	}
	if err != nil {
		// A concurrent destroy may have won; make sure the key is gone.
		if key, kerr := v.Key(ctx, userID); kerr != nil || key != nil {
			return fmt.Errorf("destroy data key of user %s: %w", userID, err)
		}
	}
	return nil
}

// Seal seals e's personal fields with the user's data key (created when
// needed); events without personal data are returned unchanged.
func (v *KeyVault) Seal(ctx context.Context, e events.Event) (events.Event, error) {
	if d, ok := e.Data.(events.UserRegistered); !ok || d.EmailSealed != "" {
		return e, nil
	}
	key, err := v.SealingKey(ctx, e.UserID)
	if err != nil {
		return e, err
	}
	return e.Seal(key)
}

// Open makes e's sealed fields readable: decrypted, or events.Erased when
// the user's key was destroyed. An error reading the key is returned (the
// caller retries); a field the key cannot open is wrapped
// events.ErrUnsealable.
func (v *KeyVault) Open(ctx context.Context, e events.Event) (events.Event, error) {
	if !e.Sealed() {
		return e, nil
	}
	key, err := v.Key(ctx, e.UserID)
	if err != nil {
		return e, err
	}
	return e.Open(key)
}

// OpenHistory returns audit rows with their sealed fields readable, as
// the audit log opens them: a UserRegistered row's data shows the email,
// or events.Erased once the user's key is destroyed.
func (v *KeyVault) OpenHistory(ctx context.Context, rows []projections.AuditEvent) ([]projections.AuditEvent, error) {
	o := &opener{vault: v, keys: map[string][]byte{}}
	out := slices.Clone(rows)
	for i := range out {
		if err := o.row(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// OpeningQueries answers History with sealed fields opened (OpenHistory);
// everything else is q's.
func OpeningQueries(q projections.Queries, keys *KeyVault) projections.Queries {
	return openingQueries{Queries: q, keys: keys}
}

type openingQueries struct {
	projections.Queries
	keys *KeyVault
}

func (q openingQueries) History(ctx context.Context, userID string) ([]projections.AuditEvent, error) {
	rows, err := q.Queries.History(ctx, userID)
	if err != nil {
		return nil, err
	}
	return q.keys.OpenHistory(ctx, rows)
}

// Snapshot reads every data key at once (one ordered read of the stream):
// what a projector catching up on a long backlog uses instead of one
// request per registration. Keys destroyed after the snapshot was taken
// are still in it; callers use it only for events stored before.
func (v *KeyVault) Snapshot(ctx context.Context) (map[string][]byte, error) {
	info, err := v.stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read data keys: %w", err)
	}
	keys := make(map[string][]byte, info.State.Msgs)
	if info.State.Msgs == 0 {
		return keys, nil
	}
	c, err := v.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("read data keys: %w", err)
	}
	it, err := c.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		return nil, fmt.Errorf("read data keys: %w", err)
	}
	defer it.Stop()
	for {
		m, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("read data keys: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return nil, fmt.Errorf("read data keys: %w", err)
		}
		if id, ok := strings.CutPrefix(m.Subject(), "userlife.keys."); ok && len(m.Data()) == events.DataKeySize {
			keys[id] = m.Data()
		}
		if md.NumPending == 0 || md.Sequence.Stream >= info.State.LastSeq {
			return keys, nil
		}
	}
}
