package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/userlife/userlife/events"
)

// Results stores command outcomes on USERLIFE_RESULTS, one per command id,
// and lets clients wait for one.
type Results struct {
	js     jetstream.JetStream
	stream jetstream.Stream
}

// NewResults binds to the provisioned results stream.
func NewResults(ctx context.Context, js jetstream.JetStream) (*Results, error) {
	s, err := js.Stream(ctx, ResultsStream)
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", ResultsStream, err)
	}
	return &Results{js: js, stream: s}, nil
}

// Publish stores o and waits for the server's ack.
func (r *Results) Publish(ctx context.Context, o events.Outcome) error {
	data, err := events.EncodeOutcome(o)
	if err != nil {
		return err
	}
	if _, err := r.js.Publish(ctx, events.ResultSubject(o.CommandID), data); err != nil {
		return fmt.Errorf("publish outcome of %s: %w", o.CommandID, err)
	}
	return nil
}

// ErrNoOutcome means no outcome is stored for the command (yet).
var ErrNoOutcome = errors.New("no outcome for this command")

// Get returns the stored outcome of commandID.
func (r *Results) Get(ctx context.Context, commandID string) (events.Outcome, error) {
	if !events.ValidID(commandID) {
		return events.Outcome{}, fmt.Errorf("invalid command id %q", commandID)
	}
	m, err := r.stream.GetLastMsgForSubject(ctx, events.ResultSubject(commandID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return events.Outcome{}, ErrNoOutcome
	}
	if err != nil {
		return events.Outcome{}, err
	}
	return events.DecodeOutcome(m.Data)
}

// Stored returns the stored outcome of commandID and whether there is one
// (the command intake's OutcomeStore). Unlike Get it asks the stream's
// leader: a direct get may be answered by a follower that has not stored
// an outcome written a moment ago, and the intake relies on the answer to
// tell a command answered before from a new one.
func (r *Results) Stored(ctx context.Context, commandID string) (events.Outcome, bool, error) {
	if !events.ValidID(commandID) {
		return events.Outcome{}, false, fmt.Errorf("invalid command id %q", commandID)
	}
	req, err := json.Marshal(map[string]string{"last_by_subj": events.ResultSubject(commandID)})
	if err != nil {
		return events.Outcome{}, false, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	resp, err := r.js.Conn().RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+ResultsStream, req)
	if err != nil {
		return events.Outcome{}, false, fmt.Errorf("read the outcome of %s: %w", commandID, err)
	}
	var body struct {
		Error   *jetstream.APIError `json:"error"`
		Message *struct {
			Data []byte `json:"data"`
		} `json:"message"`
	}
	if err := json.Unmarshal(resp.Data, &body); err != nil {
		return events.Outcome{}, false, fmt.Errorf("read the outcome of %s: %w", commandID, err)
	}
	switch {
	case body.Error != nil && body.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return events.Outcome{}, false, nil
	case body.Error != nil:
		return events.Outcome{}, false, fmt.Errorf("read the outcome of %s: %w", commandID, body.Error)
	case body.Message == nil:
		return events.Outcome{}, false, fmt.Errorf("read the outcome of %s: empty answer", commandID)
	}
	o, err := events.DecodeOutcome(body.Message.Data)
	if err != nil {
		return events.Outcome{}, false, err
	}
	return o, true, nil
}

// Watch subscribes to the outcome of commandID before the command is sent;
// call Wait on the result. Close it when done.
func (r *Results) Watch(commandID string) (*OutcomeWatch, error) {
	sub, err := r.js.Conn().SubscribeSync(events.ResultSubject(commandID))
	if err != nil {
		return nil, err
	}
	return &OutcomeWatch{r: r, id: commandID, sub: sub}, nil
}

// OutcomeWatch waits for one command's outcome.
type OutcomeWatch struct {
	r   *Results
	id  string
	sub *nats.Subscription
}

// Wait returns the command's stored outcome. The live subscription says
// when one was published; the outcome returned is read back from the
// stream's leader, because a subscriber sees an outcome before the stream
// has stored it, and one the stream then fails to store (it lost its
// leader) is not the answer: the command is delivered again and decided
// again, maybe differently. Every second it looks in the stream too: a
// message missed during a reconnect is still found there.
func (w *OutcomeWatch) Wait(ctx context.Context) (events.Outcome, error) {
	for {
		pollCtx, cancel := context.WithTimeout(ctx, time.Second)
		m, err := w.sub.NextMsgWithContext(pollCtx)
		cancel()
		tries := 1
		if err == nil {
			// Anything else on the subject is not the service's answer (a
			// client can have the server reply there): wait on.
			if o, derr := events.DecodeOutcome(m.Data); derr != nil || o.CommandID != w.id {
				continue
			}
			tries = 6 // the store may lag the live message by a moment
		} else if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			return events.Outcome{}, err
		}
		if o, ok := w.stored(ctx, tries); ok {
			return o, nil
		}
		if ctx.Err() != nil {
			return events.Outcome{}, fmt.Errorf("no outcome for command %s yet: %w", w.id, ctx.Err())
		}
	}
}

// stored looks for the stored outcome up to tries times, 5 ms apart and
// doubling.
func (w *OutcomeWatch) stored(ctx context.Context, tries int) (events.Outcome, bool) {
	pause := 5 * time.Millisecond
	for i := 0; i < tries; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return events.Outcome{}, false
			case <-time.After(pause):
			}
			pause *= 2
		}
		getCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		o, found, err := w.r.Stored(getCtx, w.id)
		cancel()
		if err == nil && found && o.CommandID == w.id {
			return o, true
		}
	}
	return events.Outcome{}, false
}

// Close ends the subscription.
func (w *OutcomeWatch) Close() { _ = w.sub.Unsubscribe() }
