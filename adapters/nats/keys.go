package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// KeysBucket holds each user's data key: the key personal fields of the
// user's events are sealed with (events.SealField). Destroying a key when
// the user is deleted erases those fields from the event log, which is
// kept forever (crypto-shredding).
const KeysBucket = "userlife_keys"

// KeyVault keeps users' data keys in the KV bucket userlife_keys, one key
// per user id. A destroyed key is purged: no revision of it stays in the
// bucket.
type KeyVault struct {
	kv jetstream.KeyValue
}

// NewKeyVault binds to the provisioned bucket.
func NewKeyVault(ctx context.Context, js jetstream.JetStream) (*KeyVault, error) {
	kv, err := js.KeyValue(ctx, KeysBucket)
	if err != nil {
		return nil, fmt.Errorf("open KV bucket %s (provision the streams with a current userlife): %w", KeysBucket, err)
	}
	return &KeyVault{kv: kv}, nil
}

// SealingKey returns the user's data key, creating it on first use.
func (v *KeyVault) SealingKey(ctx context.Context, userID string) ([]byte, error) {
	for range 3 {
		key, err := v.Key(ctx, userID)
		if err != nil || key != nil {
			return key, err
		}
		fresh, err := events.NewDataKey()
		if err != nil {
			return nil, err
		}
		_, err = v.kv.Create(ctx, userID, fresh)
		if err == nil {
			return fresh, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !isConflict(err) {
			return nil, fmt.Errorf("create data key of user %s: %w", userID, err)
		}
		// Another writer created it first: read theirs.
	}
	return nil, fmt.Errorf("create data key of user %s: lost the race three times", userID)
}

// Key returns the user's data key, or nil when the user has none (never
// had one, or it was destroyed).
func (v *KeyVault) Key(ctx context.Context, userID string) ([]byte, error) {
	entry, err := v.kv.Get(ctx, userID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read data key of user %s: %w", userID, err)
	}
	if len(entry.Value()) != events.DataKeySize {
		return nil, fmt.Errorf("data key of user %s has %d bytes, want %d", userID, len(entry.Value()), events.DataKeySize)
	}
	return entry.Value(), nil
}

// Destroy erases the user's data key for good. Destroying a key that is
// already gone is not an error.
func (v *KeyVault) Destroy(ctx context.Context, userID string) error {
	if err := v.kv.Purge(ctx, userID); err != nil {
		return fmt.Errorf("destroy data key of user %s: %w", userID, err)
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

// OpenHistory returns audit rows with their sealed fields readable: a
// UserRegistered row's data shows the email, or events.Erased once the
// user's key is destroyed. Rows without sealed fields are left alone.
func (v *KeyVault) OpenHistory(ctx context.Context, rows []projections.AuditEvent) ([]projections.AuditEvent, error) {
	keys := map[string][]byte{}
	cloned := false
	for i, r := range rows {
		if r.Type != events.TypeUserRegistered {
			continue
		}
		var d events.UserRegistered
		if err := json.Unmarshal(r.Data, &d); err != nil || d.EmailSealed == "" {
			continue
		}
		key, seen := keys[r.UserID]
		if !seen {
			var err error
			if key, err = v.Key(ctx, r.UserID); err != nil {
				return nil, err
			}
			keys[r.UserID] = key
		}
		email := events.Erased
		if key != nil {
			var err error
			if email, err = events.OpenField(key, r.UserID, "email", d.EmailSealed); err != nil {
				email = "[unreadable: " + err.Error() + "]"
			}
		}
		data, err := json.Marshal(struct {
			Email string `json:"email"`
		}{email})
		if err != nil {
			return nil, err
		}
		if !cloned {
			rows, cloned = slices.Clone(rows), true
		}
		rows[i].Data = data
	}
	return rows, nil
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
