package watermill

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/userlife/userlife/events"
)

// durableName is the durable consumer (and queue group) of one command type.
func durableName(commandName string) string { return "userlife-" + commandName }

// deliverSubject is where the server pushes one command type's messages.
func deliverSubject(commandName string) string { return "userlife.deliver." + commandName }

// ensureConsumers creates or updates one durable push consumer per command
// type before anything subscribes. Subscriptions then bind to them: a
// consumer that nats.go created itself is deleted when that subscription
// closes, which would cut off every other process sharing the queue when one
// of them stops.
func ensureConsumers(ctx context.Context, nc *nats.Conn, cfg Config) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	for _, name := range events.CommandNames() {
		_, err := js.CreateOrUpdatePushConsumer(ctx, cfg.CommandStream, jetstream.ConsumerConfig{
			Durable:        durableName(name),
			Description:    "userlife command intake for " + name,
			FilterSubject:  events.CommandSubject(name),
			DeliverSubject: deliverSubject(name),
			DeliverGroup:   durableName(name),
			DeliverPolicy:  jetstream.DeliverAllPolicy,
			AckPolicy:      jetstream.AckExplicitPolicy,
			AckWait:        cfg.AckWait,
			MaxDeliver:     cfg.MaxDeliver,
			MaxAckPending:  cfg.Concurrency * 4,
		})
		if err != nil {
			return fmt.Errorf("command consumer for %s on stream %s: %w", name, cfg.CommandStream, err)
		}
	}
	return nil
}

func provisionConsumers(cfg Config) error {
	nc, err := nats.Connect(cfg.NATSURL, append([]nats.Option{nats.Name("userlife-intake-setup")}, cfg.NATSOptions...)...)
	if err != nil {
		return fmt.Errorf("command intake: %w", err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return ensureConsumers(ctx, nc, cfg)
}
