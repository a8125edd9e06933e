package nats_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/domain"
	"github.com/userlife/userlife/events"
)

// env is one test's provisioned embedded server and the adapters bound to it.
type env struct {
	url    string
	js     jetstream.JetStream
	store  *natsadapter.EventStore
	emails *natsadapter.EmailRegistry
}

// newEnv starts a server of its own, provisions it and binds the adapters.
func newEnv(t testing.TB) *env {
	t.Helper()
	url, js := natstest.Provisioned(t)
	ctx := testContext(t)
	store, err := natsadapter.NewEventStore(ctx, js)
	if err != nil {
		t.Fatalf("NewEventStore: %v", err)
	}
	emails, err := natsadapter.NewEmailRegistry(ctx, js)
	if err != nil {
		t.Fatalf("NewEmailRegistry: %v", err)
	}
	return &env{url: url, js: js, store: store, emails: emails}
}

// service wires domain.Service like cmd/userlife does.
func (e *env) service() *domain.Service {
	return &domain.Service{
		Store:  e.store,
		Emails: e.emails,
		Decider: domain.Decider{
			Now:   time.Now,
			NewID: func() string { return uuid.Must(uuid.NewV7()).String() },
		},
	}
}

// testContext bounds a test's calls to the server; it ends with the test.
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// streamMsgs returns how many messages stream holds.
func streamMsgs(t testing.TB, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	ctx := testContext(t)
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("open stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("info of stream %s: %v", stream, err)
	}
	return info.State.Msgs
}

var baseTime = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

// registered is a UserRegistered event of commandID.
func registered(userID, commandID, email string) events.Event {
	return events.Event{
		ID:            "ev-" + commandID,
		Type:          events.TypeUserRegistered,
		UserID:        userID,
		OccurredAt:    baseTime,
		Actor:         "admin@example.com",
		Reason:        "signup",
		CommandID:     commandID,
		CorrelationID: "corr-" + commandID,
		Data:          events.UserRegistered{Email: email},
	}
}

// revoked is a SessionsRevoked event of commandID, the n-th of its user.
func revoked(userID, commandID string, n int) events.Event {
	at := baseTime.Add(time.Duration(n) * time.Millisecond)
	return events.Event{
		ID:         "ev-" + commandID,
		Type:       events.TypeSessionsRevoked,
		UserID:     userID,
		OccurredAt: at,
		Actor:      "admin@example.com",
		Reason:     fmt.Sprintf("revocation %d", n),
		CommandID:  commandID,
		Data:       events.SessionsRevoked{RevokedBefore: at},
	}
}

// appendOK appends evs and fails the test on error.
func appendOK(t testing.TB, store *natsadapter.EventStore, userID string, expected uint64, evs ...events.Event) uint64 {
	t.Helper()
	seq, err := store.Append(testContext(t), userID, expected, evs)
	if err != nil {
		t.Fatalf("Append(%s, expected %d): %v", userID, expected, err)
	}
	return seq
}
