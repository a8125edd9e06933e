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
	// republished: the stream republishes what it stores on
	// StoredResultSubject (provisioned so since it was added; a stream
	// provisioned before is read back instead).
	republished bool
}

// NewResults binds to the provisioned results stream.
func NewResults(ctx context.Context, js jetstream.JetStream) (*Results, error) {
	s, err := js.Stream(ctx, ResultsStream)
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", ResultsStream, err)
	}
	rp := s.CachedInfo().Config.RePublish
	republished := rp != nil && !rp.HeadersOnly && rp.Destination == StoredResultSubjectPrefix+">" &&
		(rp.Source == events.ResultSubjectPrefix+">" || rp.Source == ">")
	return &Results{js: js, stream: s, republished: republished}, nil
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
	subject := events.ResultSubject(commandID)
	if r.republished {
		subject = StoredResultSubject(commandID)
	}
	// A few slots are plenty for the one message waited for (a
	// synchronous subscription allocates SyncQueueLen of them per
	// command). Should foreign messages fill them, the next ones are
	// dropped, and the outcome is still read from the stream within a
	// second.
	ch := make(chan *nats.Msg, 4)
	sub, err := r.js.Conn().ChanSubscribe(subject, ch)
	if err != nil {
		return nil, err
	}
	return &OutcomeWatch{r: r, id: commandID, sub: sub, ch: ch}, nil
}

// OutcomeWatch waits for one command's outcome.
type OutcomeWatch struct {
	r   *Results
	id  string
	sub *nats.Subscription
	ch  chan *nats.Msg
}

// next returns the next message within a second; nil when none came.
func (w *OutcomeWatch) next(ctx context.Context) (*nats.Msg, error) {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case m := <-w.ch:
		return m, nil
	case <-ctx.Done():
		return nil, nil
	case <-t.C:
	}
	switch {
	case w.r.js.Conn().IsClosed():
		return nil, nats.ErrConnectionClosed
	case !w.sub.IsValid():
		return nil, nats.ErrBadSubscription
	}
	return nil, nil
}

// Wait returns the command's stored outcome. A subscriber of
// userlife.results.<id> sees an outcome before the stream has stored it,
// and one the stream then fails to store (it lost its leader) is not the
// answer: the command is delivered again and decided again, maybe
// differently. So Wait listens where the stream republishes what it has
// stored (one message, no read), or, on a stream provisioned without
// republishing, takes the live message as a signal and reads the outcome
// back from the stream's leader. Every second it looks in the stream too:
// a message missed during a reconnect is still found there.
func (w *OutcomeWatch) Wait(ctx context.Context) (events.Outcome, error) {
	for {
		m, err := w.next(ctx)
		if err != nil {
			return events.Outcome{}, err
		}
		tries := 1
		if m != nil {
			// Anything else on the subject is not the service's answer (a
			// client can have the server reply there): wait on.
			o, derr := events.DecodeOutcome(m.Data)
			if derr != nil || o.CommandID != w.id {
				continue
			}
			if w.r.republished && w.storedCopy(m) {
				return o, nil
			}
			tries = 6 // the store may lag the live message by a moment
		}
		if o, ok := w.stored(ctx, tries); ok {
			return o, nil
		}
		if ctx.Err() != nil {
			return events.Outcome{}, fmt.Errorf("no outcome for command %s yet: %w", w.id, ctx.Err())
		}
	}
}

// storedCopy reports whether m is the results stream's republished copy
// of this command's outcome subject.
func (w *OutcomeWatch) storedCopy(m *nats.Msg) bool {
	return m.Subject == StoredResultSubject(w.id) &&
		m.Header.Get(jetstream.StreamHeader) == ResultsStream &&
		m.Header.Get(jetstream.SubjectHeader) == events.ResultSubject(w.id)
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
