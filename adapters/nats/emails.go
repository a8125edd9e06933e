package nats

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/userlife/userlife/domain"
)

// EmailRegistry claims emails in the KV bucket userlife_emails. Keys are
// the SHA-256 of the normalized email: valid KV keys whatever the address,
// and the bucket does not list addresses in clear.
type EmailRegistry struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

var _ domain.EmailRegistry = (*EmailRegistry)(nil)

// NewEmailRegistry binds to the provisioned bucket.
func NewEmailRegistry(ctx context.Context, js jetstream.JetStream) (*EmailRegistry, error) {
	kv, err := js.KeyValue(ctx, EmailsBucket)
	if err != nil {
		return nil, fmt.Errorf("open KV bucket %s: %w", EmailsBucket, err)
	}
	return &EmailRegistry{kv: kv, now: time.Now}, nil
}

func emailKey(email string) string {
	h := sha256.Sum256([]byte(email))
	return hex.EncodeToString(h[:])
}

// Claim creates the claim or returns the existing one.
func (r *EmailRegistry) Claim(ctx context.Context, email, userID string) (domain.EmailClaim, error) {
	key := emailKey(email)
	for range 3 {
		rev, err := r.kv.Create(ctx, key, []byte(userID))
		if err == nil {
			return domain.EmailClaim{Owner: userID, Revision: rev}, nil
		}
		// Create reports a taken key as ErrKeyExists, except when it lost a
		// race to re-create a released key: then a bare revision mismatch.
		if !errors.Is(err, jetstream.ErrKeyExists) && !isConflict(err) {
			return domain.EmailClaim{}, err
		}
		entry, err := r.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // released meanwhile: try to create again
		}
		if err != nil {
			return domain.EmailClaim{}, err
		}
		return domain.EmailClaim{
			Owner:    string(entry.Value()),
			Revision: entry.Revision(),
			Age:      r.now().Sub(entry.Created()),
		}, nil
	}
	return domain.EmailClaim{}, fmt.Errorf("claim email: %w", domain.ErrConflict)
}

// Takeover replaces a stale claim if nobody changed it since revision.
func (r *EmailRegistry) Takeover(ctx context.Context, email, userID string, revision uint64) error {
	_, err := r.kv.Update(ctx, emailKey(email), []byte(userID), revision)
	// ErrKeyExists would only match on a single server (code 10071);
	// replicated buckets report 10164, which only ErrKeyRevisionMismatch covers.
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return fmt.Errorf("take over email claim: %w", domain.ErrConflict)
	}
	return err
}

// Release deletes the claim if userID holds it.
func (r *EmailRegistry) Release(ctx context.Context, email, userID string) error {
	key := emailKey(email)
	entry, err := r.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if string(entry.Value()) != userID {
		return nil
	}
	err = r.kv.Delete(ctx, key, jetstream.LastRevision(entry.Revision()))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return nil // claimed by someone else meanwhile
	}
	return err
}
