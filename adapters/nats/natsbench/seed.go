package natsbench

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
)

// LifecycleSteps is how many events Lifecycle gives each user.
const LifecycleSteps = 5

// Lifecycle returns the i-th event of a stream of users × (registered,
// confirmed, sessions revoked, disabled, enabled): every user's first step,
// then every user's second, and so on, so users' events interleave as they
// would in a live stream.
func Lifecycle(users, i int) events.Event {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	step, u := i/users, i%users
	var p events.Payload
	switch step {
	case 0:
		p = events.UserRegistered{Email: fmt.Sprintf("user%d@example.com", u)}
	case 1:
		p = events.UserConfirmed{}
	case 2:
		p = events.SessionsRevoked{RevokedBefore: at}
	case 3:
		p = events.UserDisabled{RevokedBefore: at.Add(time.Second)}
	default:
		p = events.UserEnabled{}
	}
	return events.Event{
		ID: uuid.NewString(), Type: p.EventType(), UserID: fmt.Sprintf("user-%d", u),
		OccurredAt: at.Add(time.Duration(step) * time.Minute), Actor: "loader", Reason: "test",
		CommandID: fmt.Sprintf("c-%d-%d", u, step), Data: p,
	}
}

// PublishLifecycles appends users × LifecycleSteps events straight to the
// event stream with asynchronous publishes (no concurrency headers): a fast
// way to make a long history. As the service does, it gives every user a
// data key on the keys stream and stores the registration's email sealed
// with it, so replays and audits of this history open every email.
// progress, if not nil, is called with the count published every 100,000
// events.
func PublishLifecycles(ctx context.Context, js jetstream.JetStream, users int, progress func(done int)) error {
	n := users * LifecycleSteps
	for i := range n {
		e := Lifecycle(users, i)
		if _, ok := e.Data.(events.UserRegistered); ok {
			key, err := events.NewDataKey()
			if err == nil {
				e, err = e.Seal(key)
			}
			if err != nil {
				return fmt.Errorf("seal event %d: %w", i+1, err)
			}
			if _, err := js.PublishAsync(natsadapter.KeysSubject(e.UserID), key); err != nil {
				return fmt.Errorf("publish data key of %s: %w", e.UserID, err)
			}
		}
		data, err := events.Encode(e)
		if err != nil {
			return err
		}
		if _, err := js.PublishAsync(events.EventSubject(e.UserID, e.Type), data); err != nil {
			return fmt.Errorf("publish event %d: %w", i+1, err)
		}
		if i%1_000 == 999 {
			// Stay well under the client's limit of outstanding async
			// publishes (4,000), which a reconnect would otherwise hit.
			if err := waitAsync(ctx, js); err != nil {
				return err
			}
		}
		if progress != nil && i%100_000 == 99_999 {
			progress(i + 1)
		}
	}
	return waitAsync(ctx, js)
}

func waitAsync(ctx context.Context, js jetstream.JetStream) error {
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(60 * time.Second):
		return fmt.Errorf("async publishes not acknowledged within 60s")
	}
}
