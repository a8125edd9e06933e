package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// ProjectorConfig tunes a projector. Zero values take the defaults shown.
type ProjectorConfig struct {
	// BatchSize bounds the messages applied in one call (one transaction).
	BatchSize int // 1000
	// MaxLatency is how long a batch may wait for more messages after its
	// first one. 0 applies as soon as nothing more is immediately at hand:
	// batches grow by themselves when the projection falls behind.
	MaxLatency time.Duration
	// RetryMin and RetryMax bound the backoff after a failed apply (e.g.
	// the database is restarting). The batch is retried until it applies.
	RetryMin, RetryMax time.Duration // 100ms, 5s
	// ProgressEvery is how often a catch-up that is far behind logs its
	// progress.
	ProgressEvery time.Duration // 2s
	// KeySnapshotBacklog is the backlog (in events) above which a session
	// starts by reading every data key at once instead of one request per
	// registration event it opens.
	KeySnapshotBacklog uint64 // 10,000
	Logger             *slog.Logger
}

func (c *ProjectorConfig) setDefaults() {
	if c.BatchSize <= 0 {
		c.BatchSize = 1000
	}
	if c.KeySnapshotBacklog == 0 {
		c.KeySnapshotBacklog = 10_000
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 5 * time.Second
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Projector keeps one projection up to date with the event stream. It reads
// with an ordered consumer from checkpoint+1: the projection's checkpoint,
// written in the same transaction as its rows, is the only record of
// progress, so nothing is acknowledged on the server and a restart resumes
// exactly where the last committed batch ended.
type Projector struct {
	js       jetstream.JetStream
	ps       []projections.Projection
	cfg      ProjectorConfig
	log      *slog.Logger
	position atomic.Uint64
}

// NewProjector binds a projection to the event stream.
func NewProjector(js jetstream.JetStream, p projections.Projection, cfg ProjectorConfig) *Projector {
	return NewProjectors(js, []projections.Projection{p}, cfg)
}

// NewProjectors feeds several projections from one reading of the stream:
// each message is fetched and decoded once and applied to each projection
// in turn (each with its own checkpoint; a projection that is ahead skips
// what it has). It reads from the lowest checkpoint.
func NewProjectors(js jetstream.JetStream, ps []projections.Projection, cfg ProjectorConfig) *Projector {
	cfg.setDefaults()
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name()
	}
	return &Projector{js: js, ps: ps, cfg: cfg, log: cfg.Logger.With("projection", strings.Join(names, ","))}
}

// Position is the last sequence this projector has committed (0 before its
// first batch or before it read the checkpoint).
func (pr *Projector) Position() uint64 { return pr.position.Load() }

// Run applies events until ctx ends. It returns nil on cancellation.
func (pr *Projector) Run(ctx context.Context) error {
	return pr.run(ctx, 0)
}

// CatchUp applies events until the projection has reached the stream's
// last sequence at the time of the call, then returns.
func (pr *Projector) CatchUp(ctx context.Context) error {
	head, err := streamHead(ctx, pr.js)
	if err != nil {
		return err
	}
	if head == 0 {
		return nil
	}
	return pr.run(ctx, head)
}

func streamHead(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	s, err := js.Stream(ctx, EventsStream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", EventsStream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", EventsStream, err)
	}
	return info.State.LastSeq, nil
}

// CatchUpTo applies events until the projection has reached seq (which
// must exist in the stream), then returns.
func (pr *Projector) CatchUpTo(ctx context.Context, seq uint64) error {
	if seq == 0 {
		return nil
	}
	return pr.run(ctx, seq)
}

// errReached ends a catch-up.
var errReached = errors.New("reached the target sequence")

// run is the projector loop; until > 0 makes it stop once the checkpoint
// reaches until.
func (pr *Projector) run(ctx context.Context, until uint64) error {
	backoff := pr.cfg.RetryMin
	for {
		err := pr.session(ctx, until)
		switch {
		case errors.Is(err, errReached):
			return nil
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, projections.ErrGap):
			pr.log.Info("projection checkpoint moved; reading again from it", "err", err)
			backoff = pr.cfg.RetryMin
			continue
		case err != nil:
			pr.log.Warn("projector interrupted; retrying", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, pr.cfg.RetryMax)
		}
	}
}

// session reads from the checkpoint and applies batches until an error, a
// gap or the target.
func (pr *Projector) session(ctx context.Context, until uint64) error {
	var cp uint64
	for i, p := range pr.ps {
		c, err := p.Checkpoint(ctx)
		if err != nil {
			return fmt.Errorf("read checkpoint of %s: %w", p.Name(), err)
		}
		if i == 0 || c < cp {
			cp = c
		}
	}
	pr.position.Store(cp)
	if until > 0 && cp >= until {
		return errReached
	}
	s, err := pr.js.Stream(ctx, EventsStream)
	if err != nil {
		return err
	}
	keys, err := NewKeyVault(ctx, pr.js)
	if err != nil {
		return err
	}
	// On a long backlog, read every data key at once rather than one
	// request per registration event.
	var snap map[string][]byte
	var snapUntil uint64
	if last := s.CachedInfo().State.LastSeq; last > cp+pr.cfg.KeySnapshotBacklog {
		if snap, err = keys.Snapshot(ctx); err != nil {
			return err
		}
		snapUntil = last
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if cp > 0 {
		cfg = jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: cp + 1}
	}
	cons, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("ordered consumer from %d: %w", cp+1, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * pr.cfg.BatchSize))
	if err != nil {
		return err
	}
	defer it.Stop()
	// Reading and decoding run beside applying: on a catch-up the two
	// overlap instead of taking turns.
	feed := make(chan projections.Message, 2*pr.cfg.BatchSize)
	readErr := make(chan error, 1)
	go func() {
		defer close(feed)
		for {
			m, err := it.Next()
			if err != nil {
				readErr <- err
				return
			}
			msg := toMessage(m)
			if snap != nil && msg.Seq > snapUntil {
				snap = nil // caught up with the snapshot: read keys one by one
			}
			msg, err = openMessage(ctx, keys, snap, msg)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case feed <- msg:
			case <-ctx.Done():
				return
			}
		}
	}()
	prog := newProgress(ctx, pr, cp, until)
	for {
		b, err := pr.collect(ctx, feed, readErr, until)
		if err != nil {
			return err
		}
		if err := pr.apply(ctx, b); err != nil {
			return err
		}
		pr.position.Store(b.Last())
		prog.report(b.Last())
		if until > 0 && b.Last() >= until {
			return errReached
		}
	}
}

// collect waits for one message, then takes what else is at hand (or
// arrives within MaxLatency), up to BatchSize, and never past until (when
// set): a catch-up to a given sequence stops exactly there.
func (pr *Projector) collect(ctx context.Context, feed <-chan projections.Message, readErr <-chan error, until uint64) (projections.Batch, error) {
	var b projections.Batch
	var deadline <-chan time.Time
	for len(b) < pr.cfg.BatchSize && (until == 0 || b.Last() < until) {
		if len(b) == 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case m, ok := <-feed:
				if !ok {
					return nil, readError(readErr)
				}
				b = append(b, m)
				if pr.cfg.MaxLatency > 0 {
					deadline = time.After(pr.cfg.MaxLatency)
				}
			}
			continue
		}
		select {
		case m, ok := <-feed:
			if !ok {
				return b, nil
			}
			b = append(b, m)
		default:
			if deadline == nil {
				return b, nil
			}
			select {
			case m, ok := <-feed:
				if !ok {
					return b, nil
				}
				b = append(b, m)
			case <-deadline:
				return b, nil
			case <-ctx.Done():
				return b, nil
			}
		}
	}
	return b, nil
}

func readError(readErr <-chan error) error {
	select {
	case err := <-readErr:
		return fmt.Errorf("read events: %w", err)
	default:
		return errors.New("read events: stopped")
	}
}

// apply applies the batch to every projection.
func (pr *Projector) apply(ctx context.Context, b projections.Batch) error {
	for _, p := range pr.ps {
		if err := pr.applyOne(ctx, p, b); err != nil {
			return err
		}
	}
	return nil
}

// applyOne retries a failed batch with backoff until it is applied, ctx
// ends, or the projection reports a gap. After a failure the batch is
// applied in halves, each retried the same way: a batch whose transaction
// cannot finish between two failures (connections cut every few hundred
// milliseconds, a statement timeout) still gets through, in smaller
// transactions.
func (pr *Projector) applyOne(ctx context.Context, p projections.Projection, b projections.Batch) error {
	backoff := pr.cfg.RetryMin
	for {
		err := p.Apply(ctx, b)
		if err == nil || errors.Is(err, projections.ErrGap) || ctx.Err() != nil {
			return err
		}
		log := pr.log
		if len(pr.ps) > 1 {
			log = log.With("failed", p.Name())
		}
		log.Warn("apply failed; retrying", "first_seq", b[0].Seq, "last_seq", b.Last(), "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		if len(b) > 1 {
			half := len(b) / 2
			if err := pr.applyOne(ctx, p, b[:half]); err != nil {
				return err
			}
			return pr.applyOne(ctx, p, b[half:])
		}
		backoff = min(backoff*2, pr.cfg.RetryMax)
	}
}

// openMessage makes a decoded event's sealed fields readable (or
// events.Erased). A field the user's key cannot open makes the message a
// failure; a key that cannot be read now is an error (the session starts
// again from the checkpoint).
func openMessage(ctx context.Context, keys *KeyVault, snap map[string][]byte, msg projections.Message) (projections.Message, error) {
	if msg.Err != nil || !msg.Event.Sealed() {
		return msg, nil
	}
	var e events.Event
	var err error
	if snap != nil {
		e, err = msg.Event.Open(snap[msg.Event.UserID])
	} else {
		e, err = keys.Open(ctx, msg.Event)
	}
	if errors.Is(err, events.ErrUnsealable) {
		msg.Err = err
		return msg, nil
	}
	if err != nil {
		return msg, fmt.Errorf("seq %d: %w", msg.Seq, err)
	}
	msg.Event = e
	return msg, nil
}

// toMessage decodes a stream message; a message that does not decode is
// passed on with its error, to be recorded as a failure.
func toMessage(m jetstream.Msg) projections.Message {
	msg := projections.Message{Subject: m.Subject(), Data: m.Data()}
	if md, err := m.Metadata(); err == nil {
		msg.Seq = md.Sequence.Stream
	}
	e, err := events.Decode(m.Data())
	if err != nil {
		msg.Err = err
		return msg
	}
	e.Seq = msg.Seq
	msg.Event = e
	return msg
}
