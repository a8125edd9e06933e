package watermill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	wm "github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/userlife/userlife/domain"
	"github.com/userlife/userlife/events"
)

// PoisonTopic is the subject commands that cannot be handled are copied to,
// with the reason in the "reason_poisoned" header.
const PoisonTopic = events.PoisonSubjectPrefix + "commands"

// Intake consumes the command queue.
type Intake struct {
	cfg     Config
	log     *slog.Logger
	router  *message.Router
	poison  *wmnats.Publisher
	unknown *unknownCommands
	subs    []*drainingSubscriber

	mu    sync.Mutex
	state runState
}

// New builds the router, one CQRS command handler per command type, and the
// catch-all for unknown command subjects. Run starts consuming.
func New(cfg Config) (_ *Intake, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("command intake: %w", err)
	}
	in := &Intake{cfg: cfg, log: cfg.Logger}
	defer func() {
		if err != nil {
			_ = in.closeConnections()
		}
	}()
	wlog := newLogger(cfg.Logger)

	in.poison, err = wmnats.NewPublisher(wmnats.PublisherConfig{
		URL:         cfg.NATSURL,
		NatsOptions: append([]nats.Option{nats.Name("userlife-poison")}, cfg.NATSOptions...),
		JetStream:   wmnats.JetStreamConfig{},
	}, wlog)
	if err != nil {
		return nil, fmt.Errorf("command intake: poison publisher: %w", err)
	}

	in.router, err = message.NewRouter(message.RouterConfig{CloseTimeout: cfg.CloseTimeout}, wlog)
	if err != nil {
		return nil, err
	}
	poison, err := middleware.PoisonQueueWithFilter(in.poison, PoisonTopic, func(err error) bool {
		var p poisonError
		return errors.As(err, &p)
	})
	if err != nil {
		return nil, err
	}
	in.router.AddMiddleware(
		middleware.CorrelationID,
		poison,
		in.finalize,
		middleware.Retry{
			MaxRetries:          cfg.ConflictRetries,
			InitialInterval:     time.Millisecond,
			MaxInterval:         50 * time.Millisecond,
			Multiplier:          2,
			RandomizationFactor: 0.5,
			ShouldRetry:         func(p middleware.RetryParams) bool { return errors.Is(p.Err, domain.ErrConflict) },
			ResetContextOnRetry: true,
		}.Middleware,
		middleware.Recoverer,
	)

	processor, err := cqrs.NewCommandProcessorWithConfig(in.router, cqrs.CommandProcessorConfig{
		GenerateSubscribeTopic: func(p cqrs.CommandProcessorGenerateSubscribeTopicParams) (string, error) {
			return events.CommandSubject(p.CommandName), nil
		},
		SubscriberConstructor: func(p cqrs.CommandProcessorSubscriberConstructorParams) (message.Subscriber, error) {
			return in.newSubscriber(p.CommandName, wlog)
		},
		Marshaler: commandMarshaler{},
		Logger:    wlog,
	})
	if err != nil {
		return nil, err
	}
	if err := processor.AddHandlers(
		handlerFor[events.RegisterUser](in),
		handlerFor[events.ConfirmUser](in),
		handlerFor[events.DisableUser](in),
		handlerFor[events.EnableUser](in),
		handlerFor[events.DeleteUser](in),
		handlerFor[events.RevokeSessions](in),
		handlerFor[events.RevokeSession](in),
		handlerFor[events.RecordDataPurged](in),
	); err != nil {
		return nil, err
	}
	if err := provisionConsumers(cfg); err != nil {
		return nil, err
	}
	in.unknown = &unknownCommands{in: in}
	return in, nil
}

// handlerFor adapts the intake to a typed CQRS handler. The handler name is
// stable ("userlife.<Command>"): renaming it would re-consume every command.
func handlerFor[T any, PT interface {
	*T
	events.Command
}](in *Intake) cqrs.CommandHandler {
	name := PT(new(T)).CommandName()
	return cqrs.NewCommandHandler("userlife."+name, func(ctx context.Context, cmd *T) error {
		return in.handle(ctx, PT(cmd))
	})
}

func (in *Intake) newSubscriber(commandName string, wlog wm.LoggerAdapter) (message.Subscriber, error) {
	durable := durableName(commandName)
	// Watermill's own wait is shorter than the server's AckWait so the
	// server, not a stuck handler, decides on redelivery.
	sub, err := newDrainingSubscriber(wmnats.SubscriberConfig{
		URL:              in.cfg.NATSURL,
		NatsOptions:      append([]nats.Option{nats.Name(durable)}, in.cfg.NATSOptions...),
		QueueGroupPrefix: durable,
		SubscribersCount: in.cfg.Concurrency,
		AckWaitTimeout:   in.cfg.AckWait - in.cfg.AckWait/10,
		CloseTimeout:     in.cfg.CloseTimeout,
		SubscribeTimeout: 30 * time.Second,
		Unmarshaler:      rawUnmarshaler{},
		NakDelay:         backoffDelay{},
		SubjectCalculator: func(queueGroupPrefix, topic string) *wmnats.SubjectDetail {
			return &wmnats.SubjectDetail{Primary: topic, QueueGroup: queueGroupPrefix}
		},
		JetStream: wmnats.JetStreamConfig{
			AutoProvision: false, // Provision owns the stream, ensureConsumers the consumers
			// The ack is sent without waiting for the server to confirm it:
			// the outcome is stored before the ack is sent, so an ack that
			// is lost only has the command delivered again, and a command
			// delivered again is answered with its stored outcome (see
			// answeredBefore), never decided twice. Waiting held each
			// subscription for one more round trip per command.
			AckAsync: true,
			SubscribeOptions: []nats.SubOpt{
				nats.Bind(in.cfg.CommandStream, durable),
				// Without ManualAck nats.go acks when the callback returns,
				// before the handler has decided.
				nats.ManualAck(),
			},
			DurableCalculator: func(string, string) string { return durable },
		},
	}, wlog)
	if err != nil {
		return nil, err
	}
	in.subs = append(in.subs, sub)
	return sub, nil
}

// backoffDelay spaces out redeliveries after infrastructure failures:
// 250ms, 500ms, ... up to 30s.
type backoffDelay struct{}

func (backoffDelay) WaitTime(n uint64) time.Duration {
	d := 250 * time.Millisecond
	for i := uint64(1); i < n && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}

// handle runs one decoded command.
func (in *Intake) handle(ctx context.Context, cmd events.Command) error {
	msg := cqrs.OriginalMessageFromCtx(ctx)
	m := cmd.Meta()
	if m.CommandID == "" {
		m.CommandID = fallbackCommandID(msg)
	}
	if _, ok := cmd.(*events.RegisterUser); ok && m.UserID == "" {
		// Derived from the command id alone, never random nor from the
		// message: a redelivery, and the same command sent again as a new
		// message, must register the same user (else the copy is refused
		// with email_taken instead of answered like the first).
		m.UserID = domain.DeriveID("user:"+m.CommandID, commandTime(m.CommandID))
	}
	if m.CorrelationID == "" && msg != nil {
		m.CorrelationID = middleware.MessageCorrelationID(msg)
	}
	if answered, err := in.answeredBefore(ctx, msg, m.CommandID); err != nil || answered {
		return err
	}
	out, err := in.cfg.Handler.Handle(ctx, cmd)
	if err != nil {
		return err
	}
	if !events.ValidID(out.CommandID) {
		out.CommandID = fallbackCommandID(msg)
	}
	if err := in.cfg.Outcomes.Publish(ctx, out); err != nil {
		return fmt.Errorf("publish outcome: %w", err)
	}
	in.published(out, takenAt(ctx))
	return nil
}

// answeredBefore reports whether a command delivered again already has a
// stored outcome: its acknowledgement was lost after the outcome was
// stored. Deciding it again could give another answer on a state changed
// since (an "unchanged" disable would disable the user after a newer
// enable), so it is acknowledged as it was answered. A first delivery is
// not looked up: the cost of a read per command is paid only on
// redeliveries.
func (in *Intake) answeredBefore(ctx context.Context, msg *message.Message, commandID string) (bool, error) {
	store, ok := in.cfg.Outcomes.(OutcomeStore)
	if !ok || msg == nil {
		return false, nil
	}
	if n, _ := strconv.Atoi(msg.Metadata.Get(mdNumDelivered)); n < 2 {
		return false, nil
	}
	o, found, err := store.Stored(ctx, commandID)
	if err != nil {
		return false, fmt.Errorf("read the stored outcome of a redelivered command: %w", err)
	}
	if found {
		in.log.Debug("command delivered again after it was answered; acknowledged with its stored outcome",
			"command", o.Command, "command_id", commandID, "status", o.Status, "stream_seq", o.EventSeq)
	}
	return found, nil
}

// takenKey holds, in a message's context, when finalize first saw it.
type takenKey struct{}

func takenAt(ctx context.Context) time.Time {
	t, _ := ctx.Value(takenKey{}).(time.Time)
	return t
}

// published logs a stored outcome and reports it to OnOutcome.
func (in *Intake) published(o events.Outcome, taken time.Time) {
	in.log.Debug("command handled", "command", o.Command, "command_id", o.CommandID, "user_id", o.UserID,
		"status", o.Status, "code", o.Code, "stream_seq", o.EventSeq)
	if in.cfg.OnOutcome != nil {
		var took time.Duration
		if !taken.IsZero() {
			took = time.Since(taken)
		}
		in.cfg.OnOutcome(OutcomeParams{Outcome: o, Took: took})
	}
}

// poisonError marks an error whose message goes to the poison stream and is
// acked.
type poisonError struct{ err error }

func (p poisonError) Error() string { return p.err.Error() }
func (p poisonError) Unwrap() error { return p.err }

// finalize turns errors that escaped the retries into an outcome, so every
// command gets exactly one answer:
//   - undecodable commands: rejected with the decoder's code, then poisoned;
//   - conflicts after every retry: rejected with code "conflict", acked;
//   - panics, and failures on the last allowed delivery: internal_error,
//     poisoned (kept with the reason, never silently dropped);
//   - other failures: nacked, redelivered later.
func (in *Intake) finalize(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		taken := time.Now()
		msg.SetContext(context.WithValue(msg.Context(), takenKey{}, taken))
		produced, err := h(msg)
		if err == nil {
			return produced, nil
		}
		out := events.Outcome{
			CommandID: commandIDFromPayload(msg),
			Command:   msg.Metadata.Get(mdName),
			Status:    events.StatusRejected,
			UserID:    userIDFromPayload(msg),
		}
		var ce *events.CommandError
		var panicErr middleware.RecoveredPanicError
		poison := true
		switch {
		case errors.As(err, &ce):
			out.Code, out.Message = ce.Code, ce.Message
		case errors.Is(err, domain.ErrConflict):
			out.Code, out.Message = events.CodeConflict, "the user changed under too many concurrent commands; send the command again"
			poison = false
		case errors.As(err, &panicErr):
			out.Code, out.Message = events.CodeInternal, "the service failed on this command; it is kept in the poison stream"
		default:
			if n, _ := strconv.Atoi(msg.Metadata.Get(mdNumDelivered)); n < in.cfg.MaxDeliver {
				in.log.Warn("command failed, will be redelivered", "command", out.Command,
					"command_id", out.CommandID, "delivery", n, "err", err)
				return nil, err
			}
			out.Code, out.Message = events.CodeInternal, fmt.Sprintf("gave up after %d deliveries: %v", in.cfg.MaxDeliver, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if perr := in.cfg.Outcomes.Publish(ctx, out); perr != nil {
			return nil, fmt.Errorf("%w (and publishing its outcome failed: %v)", err, perr)
		}
		in.published(out, taken)
		if poison {
			in.log.Warn("command sent to the poison stream", "command", out.Command, "command_id", out.CommandID,
				"code", out.Code, "err", err)
			// The poison copy names the outcome it was answered with.
			msg.Metadata.Set("command_id", out.CommandID)
			return nil, poisonError{err}
		}
		return nil, nil
	}
}

// receivedAt is when the command stream stored the message.
func receivedAt(msg *message.Message) time.Time {
	if msg != nil {
		if t, err := time.Parse(time.RFC3339Nano, msg.Metadata.Get(mdTimestamp)); err == nil {
			return t
		}
	}
	return time.Time{}
}

// commandTime is the instant a UUIDv7 command id carries (the client's
// clock when it made the command), so user ids derived from it sort by
// time; any other id gives the Unix epoch. Either way the same command id
// always gives the same instant.
func commandTime(commandID string) time.Time {
	u, err := uuid.Parse(commandID)
	if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 {
		return time.UnixMilli(0)
	}
	ms := int64(u[0])<<40 | int64(u[1])<<32 | int64(u[2])<<24 | int64(u[3])<<16 | int64(u[4])<<8 | int64(u[5])
	return time.UnixMilli(ms)
}

// fallbackCommandID names a command that did not name itself: its
// Nats-Msg-Id if usable, else an id derived from its place in the stream
// (stable across redeliveries).
func fallbackCommandID(msg *message.Message) string {
	if msg == nil {
		return wm.NewUUID()
	}
	if id := msg.Metadata.Get(mdMsgID); events.ValidID(id) {
		return id
	}
	if seq := msg.Metadata.Get(mdStreamSeq); seq != "" {
		return domain.DeriveID("cmd:"+seq, receivedAt(msg))
	}
	return msg.UUID
}

// commandIDFromPayload recovers the command id of a command that failed,
// reading the JSON leniently.
func commandIDFromPayload(msg *message.Message) string {
	var p struct {
		CommandID string `json:"command_id"`
	}
	if json.Unmarshal(msg.Payload, &p) == nil && events.ValidID(p.CommandID) {
		return p.CommandID
	}
	return fallbackCommandID(msg)
}

func userIDFromPayload(msg *message.Message) string {
	var p struct {
		UserID string `json:"user_id"`
	}
	if json.Unmarshal(msg.Payload, &p) == nil && events.ValidID(p.UserID) {
		return p.UserID
	}
	return ""
}
