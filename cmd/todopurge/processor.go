package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	wm "github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// Config is what the service runs with.
type Config struct {
	NATSURL     string
	PostgresURL string
	// Service is the name the service registers under and reports its
	// purges with (RecordDataPurged.service).
	Service     string
	Description string
	// Durable is the JetStream consumer (default "<service>-purge").
	Durable string
	// AckWait: a UserDeleted not acked this long after delivery (the
	// process died mid-purge) is delivered again.
	AckWait time.Duration
	// Concurrency is how many UserDeleted are handled at once.
	Concurrency int
	Logger      *slog.Logger

	// wrapSender lets a test fail sending the receipt, as a crash between
	// the purge's commit and the receipt would.
	wrapSender func(sender) sender
}

func (c *Config) setDefaults() {
	if c.Durable == "" {
		c.Durable = c.Service + "-purge"
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate joins every problem with the configuration.
func (c Config) Validate() error {
	var err error
	if c.NATSURL == "" {
		err = errors.Join(err, errors.New("--nats is required"))
	}
	if c.PostgresURL == "" {
		err = errors.Join(err, errors.New("--postgres (or DATABASE_URL) is required: the service's own database"))
	}
	if !events.ValidID(c.Service) {
		err = errors.Join(err, fmt.Errorf("--service %q must be 1-64 characters of [A-Za-z0-9_-]", c.Service))
	}
	if c.Durable != "" && !events.ValidID(c.Durable) {
		err = errors.Join(err, fmt.Errorf("--durable %q must be 1-64 characters of [A-Za-z0-9_-]", c.Durable))
	}
	if c.AckWait != 0 && c.AckWait < time.Second {
		err = errors.Join(err, errors.New("--ack-wait must be at least 1s"))
	}
	return err
}

// sender sends a command and waits for its outcome (natsadapter.Client).
type sender interface {
	Do(ctx context.Context, cmd events.Command) (events.Outcome, error)
}

// purger is the example: a Watermill CQRS EventProcessor with one handler,
// for UserDeleted, on a durable JetStream consumer of its own.
type purger struct {
	cfg    Config
	log    *slog.Logger
	store  *todoStore
	nc     *nats.Conn
	send   sender
	router *message.Router
	done   chan error
}

// start registers the service, creates its consumer and starts handling
// UserDeleted events; Close stops it.
func start(ctx context.Context, cfg Config) (_ *purger, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &purger{cfg: cfg, log: cfg.Logger.With("service", cfg.Service), done: make(chan error, 1)}
	defer func() {
		if err != nil {
			p.closeResources()
		}
	}()
	if p.store, err = openStore(ctx, cfg.PostgresURL); err != nil {
		return nil, err
	}
	if p.nc, err = natsadapter.Connect(cfg.NATSURL, "todopurge-"+cfg.Service, nil); err != nil {
		return nil, err
	}
	js, err := jetstream.New(p.nc)
	if err != nil {
		return nil, err
	}
	if err := natsadapter.CheckServer(ctx, js); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.NATSURL, err)
	}
	client, err := natsadapter.NewClient(ctx, js)
	if err != nil {
		return nil, fmt.Errorf("%w (has `userlife serve` provisioned this NATS server?)", err)
	}
	p.send = client
	if cfg.wrapSender != nil {
		p.send = cfg.wrapSender(client)
	}
	services, err := natsadapter.NewDataServices(ctx, js)
	if err != nil {
		return nil, fmt.Errorf("%w (has `userlife serve` provisioned this NATS server?)", err)
	}
	reg, err := services.Register(ctx, projections.DataService{Service: cfg.Service, Description: cfg.Description})
	if err != nil {
		return nil, err
	}
	p.log.Info("registered as a data service", "registered_at", reg.RegisteredAt)
	if err := ensureConsumer(ctx, js, cfg); err != nil {
		return nil, err
	}
	if err := p.buildRouter(); err != nil {
		return nil, err
	}
	go func() { p.done <- p.router.Run(context.Background()) }()
	select {
	case <-p.router.Running():
	case err := <-p.done:
		return nil, fmt.Errorf("event processor: %w", err)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return p, nil
}

// deliverSubject is where the server pushes the consumer's messages.
func deliverSubject(durable string) string { return "todopurge.deliver." + durable }

// ensureConsumer creates (or updates) the service's durable consumer: every
// UserDeleted from the first event on, so a service that starts late (or
// anew) still purges the users deleted before it existed. Explicit acks,
// redelivery after AckWait, never given up on (MaxDeliver -1): an erasure
// must not be dropped. Bound to by the subscription, not created by it: a
// consumer nats.go creates itself is deleted when the subscription closes.
func ensureConsumer(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	_, err := js.CreateOrUpdatePushConsumer(ctx, natsadapter.EventsStream, jetstream.ConsumerConfig{
		Durable:        cfg.Durable,
		Description:    "todopurge: erase the data of deleted users (" + cfg.Service + ")",
		FilterSubject:  events.EventSubject("*", events.TypeUserDeleted),
		DeliverSubject: deliverSubject(cfg.Durable),
		DeliverGroup:   cfg.Durable,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        cfg.AckWait,
		MaxDeliver:     -1,
		MaxAckPending:  cfg.Concurrency * 4,
	})
	if err != nil {
		return fmt.Errorf("consumer %s on %s: %w", cfg.Durable, natsadapter.EventsStream, err)
	}
	return nil
}

func (p *purger) buildRouter() error {
	wlog := wm.NewSlogLoggerWithLevelMapping(p.log.With("component", "watermill"), map[slog.Level]slog.Level{
		slog.LevelInfo: slog.LevelDebug,
	})
	var err error
	p.router, err = message.NewRouter(message.RouterConfig{CloseTimeout: 30 * time.Second}, wlog)
	if err != nil {
		return err
	}
	p.router.AddMiddleware(middleware.Recoverer)
	processor, err := cqrs.NewEventProcessorWithConfig(p.router, cqrs.EventProcessorConfig{
		GenerateSubscribeTopic: func(params cqrs.EventProcessorGenerateSubscribeTopicParams) (string, error) {
			return events.EventSubject("*", events.Type(params.EventName)), nil
		},
		SubscriberConstructor: func(cqrs.EventProcessorSubscriberConstructorParams) (message.Subscriber, error) {
			return p.newSubscriber(wlog)
		},
		Marshaler: eventMarshaler{},
		// The consumer's filter lets only UserDeleted through.
		AckOnUnknownEvent: true,
		Logger:            wlog,
	})
	if err != nil {
		return err
	}
	// The handler name is stable: Watermill keys handlers by it.
	return processor.AddHandlers(cqrs.NewEventHandler("todopurge.UserDeleted", p.handle))
}

func (p *purger) newSubscriber(wlog wm.LoggerAdapter) (message.Subscriber, error) {
	durable := p.cfg.Durable
	return wmnats.NewSubscriber(wmnats.SubscriberConfig{
		URL:              p.cfg.NATSURL,
		NatsOptions:      []nats.Option{nats.Name("todopurge-" + durable)},
		QueueGroupPrefix: durable,
		SubscribersCount: p.cfg.Concurrency,
		// Watermill's own wait is shorter than the server's AckWait so the
		// server, not a stuck handler, decides on redelivery.
		AckWaitTimeout:   p.cfg.AckWait - p.cfg.AckWait/10,
		CloseTimeout:     30 * time.Second,
		SubscribeTimeout: 30 * time.Second,
		Unmarshaler:      rawUnmarshaler{},
		NakDelay:         wmnats.NewStaticDelay(time.Second),
		SubjectCalculator: func(queueGroupPrefix, topic string) *wmnats.SubjectDetail {
			return &wmnats.SubjectDetail{Primary: topic, QueueGroup: queueGroupPrefix}
		},
		JetStream: wmnats.JetStreamConfig{
			AutoProvision: false,
			SubscribeOptions: []nats.SubOpt{
				nats.Bind(natsadapter.EventsStream, durable),
				// Without ManualAck nats.go acks when the callback returns,
				// before the handler has purged anything.
				nats.ManualAck(),
			},
			DurableCalculator: func(string, string) string { return durable },
		},
	}, wlog)
}

// handle purges the data of one deleted user and reports it. An error
// nacks the event (redelivered a second later); nil acks it.
func (p *purger) handle(ctx context.Context, ev *userDeleted) error {
	md := func(key string) string {
		if msg := cqrs.OriginalMessageFromCtx(ctx); msg != nil {
			return msg.Metadata.Get(key)
		}
		return ""
	}
	if ev.DecodeErr != nil {
		// Only userlife writes the stream; an undecodable event is a bug
		// no retry fixes. The user's receipt stays pending, where an
		// operator sees it.
		p.log.Error("undecodable UserDeleted, skipped", "stream_seq", md(mdStreamSeq), "err", ev.DecodeErr)
		return nil
	}
	if ev.Type != events.TypeUserDeleted {
		p.log.Error("an event on a UserDeleted subject is not one, skipped", "stream_seq", md(mdStreamSeq), "type", ev.Type)
		return nil
	}
	removed, at, first, err := p.store.purge(ctx, ev.UserID, ev.ID, ev.Seq)
	if err != nil {
		return err
	}
	log := p.log.With("user_id", ev.UserID, "event_id", ev.ID, "stream_seq", ev.Seq, "delivery", md(mdNumDelivered))
	if first {
		log.Info("purged", "items_removed", removed)
	} else {
		log.Info("purged before; sending the recorded receipt again", "items_removed", removed, "purged_at", at)
	}
	correlation := ev.CorrelationID
	if correlation == "" {
		correlation = ev.CommandID
	}
	cmd := &events.RecordDataPurged{
		CommandMeta: events.CommandMeta{
			CommandID:     receiptCommandID(p.cfg.Service, ev.ID),
			UserID:        ev.UserID,
			Actor:         p.cfg.Service,
			Reason:        "erased on UserDeleted " + ev.ID,
			CorrelationID: correlation,
		},
		Service:      p.cfg.Service,
		ItemsRemoved: removed,
	}
	sendCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := p.send.Do(sendCtx, cmd)
	if err != nil {
		return fmt.Errorf("send RecordDataPurged for user %s: %w", ev.UserID, err)
	}
	if out.Status == events.StatusRejected {
		// Only a bug gets here (e.g. an invalid service name); sending the
		// same command again would be rejected again.
		log.Error("receipt rejected", "code", out.Code, "message", out.Message, "command_id", out.CommandID)
		return nil
	}
	log.Info("receipt recorded", "status", out.Status, "event_seq", out.EventSeq, "command_id", out.CommandID)
	return nil
}

// receiptCommandID is the same for every delivery of one UserDeleted to
// one service, so the core applies the receipt once however often it is
// sent.
func receiptCommandID(service, eventID string) string {
	h := sha256.Sum256([]byte(service + "\x00" + eventID))
	return "purge-" + hex.EncodeToString(h[:16])
}

// Done reports the router's end (an error if it failed).
func (p *purger) Done() <-chan error { return p.done }

// Close stops consuming. A UserDeleted being handled right then is left
// unacked and delivered again later; the purge record makes that harmless.
func (p *purger) Close() error {
	var err error
	if p.router != nil {
		err = p.router.Close()
	}
	p.closeResources()
	return err
}

func (p *purger) closeResources() {
	if p.nc != nil {
		p.nc.Close()
	}
	if p.store != nil {
		p.store.Close()
	}
}
