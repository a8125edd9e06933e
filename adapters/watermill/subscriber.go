package watermill

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	wm "github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// drainingSubscriber makes closing the intake graceful. watermill-nats ties
// every message to the context passed to Subscribe, which the router cancels
// the moment Close is called, and its own Close stops waiting for acks: a
// command in flight was cut off mid-decision and left unacked, out of every
// other process's reach until the server's AckWait ran out. Here the
// subscription outlives the router's context, and Close first drains the
// connection (the server stops delivering; what it already delivered is
// handled and acked) before closing the watermill subscriber.
type drainingSubscriber struct {
	inner   *wmnats.Subscriber
	nc      *nats.Conn
	timeout time.Duration

	once sync.Once
	err  error
}

var _ message.Subscriber = (*drainingSubscriber)(nil)

func newDrainingSubscriber(cfg wmnats.SubscriberConfig, logger wm.LoggerAdapter) (*drainingSubscriber, error) {
	opts := append(append([]nats.Option(nil), cfg.NatsOptions...), nats.DrainTimeout(cfg.CloseTimeout))
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", cfg.URL, err)
	}
	inner, err := wmnats.NewSubscriberWithNatsConn(nc, cfg.GetSubscriberSubscriptionConfig(), quietWhenClosed{logger})
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &drainingSubscriber{inner: inner, nc: nc, timeout: cfg.CloseTimeout}, nil
}

// Subscribe subscribes with a context the router cannot cancel; when ctx
// ends the subscriber closes gracefully instead.
func (s *drainingSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	msgs, err := s.inner.Subscribe(context.WithoutCancel(ctx), topic)
	if err != nil {
		return nil, err
	}
	go func() {
		<-ctx.Done()
		_ = s.Close()
	}()
	return msgs, nil
}

// Close drains the connection, waiting up to the close timeout for the
// commands already delivered to be handled and acked, then closes the
// watermill subscriber (which closes the message channel). Safe to call more
// than once and concurrently.
func (s *drainingSubscriber) Close() error {
	s.once.Do(func() {
		closed := s.nc.StatusChanged(nats.CLOSED)
		if !s.nc.IsClosed() {
			if err := s.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
				s.err = fmt.Errorf("drain command subscription: %w", err)
			}
			// Drain closes the connection when done, or at DrainTimeout.
			t := time.NewTimer(s.timeout + time.Second)
			select {
			case <-closed:
			case <-t.C:
				s.nc.Close()
			}
			t.Stop()
		}
		if err := s.inner.Close(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			s.err = errors.Join(s.err, err)
		}
	})
	return s.err
}

// quietWhenClosed logs watermill-nats's complaints about the connection
// being closed (its subscriptions unsubscribing after the drain closed it)
// at debug level: they are the expected end of a graceful close.
type quietWhenClosed struct{ wm.LoggerAdapter }

func (q quietWhenClosed) Error(msg string, err error, fields wm.LogFields) {
	if errors.Is(err, nats.ErrConnectionClosed) {
		q.LoggerAdapter.Debug(msg+": "+err.Error(), fields)
		return
	}
	q.LoggerAdapter.Error(msg, err, fields)
}

func (q quietWhenClosed) With(fields wm.LogFields) wm.LoggerAdapter {
	return quietWhenClosed{q.LoggerAdapter.With(fields)}
}
