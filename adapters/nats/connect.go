package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// MinAPILevel is the JetStream API level of NATS server 2.12. Older servers
// silently ignore Nats-Expected-Last-Subject-Sequence-Subject, which would
// let a stale writer overwrite a newer decision.
const MinAPILevel = 2

// SyncQueueLen bounds the buffer of synchronous subscriptions: enough for
// a full batch of a direct get (loadBatch messages and the end marker).
const SyncQueueLen = 1024

// ErrServerTooOld is returned by CheckServer for a server below 2.12.
var ErrServerTooOld = errors.New("NATS server too old")

// Connect dials url with settings suited to a long-running client: reconnect
// forever, a name visible in the server's connection list, and logged
// disconnects.
func Connect(url, name string, logger *slog.Logger, extra ...nats.Option) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.Timeout(5 * time.Second),
		// Each synchronous subscription (a direct batch get, a wait for an
		// outcome) allocates a channel of this many slots; the default of
		// 65,536 costs about 0.5 ms per call.
		nats.SyncQueueLen(SyncQueueLen),
	}
	if logger != nil {
		opts = append(opts,
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				if err != nil {
					logger.Warn("NATS disconnected", "err", err)
				}
			}),
			nats.ReconnectHandler(func(c *nats.Conn) { logger.Info("NATS reconnected", "url", c.ConnectedUrlRedacted()) }),
		)
	}
	nc, err := nats.Connect(url, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	return nc, nil
}

// CheckServer refuses a server without JetStream or older than 2.12.
func CheckServer(ctx context.Context, js jetstream.JetStream) error {
	info, err := js.AccountInfo(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return fmt.Errorf("the NATS server has JetStream disabled; start it with -js (userlife needs NATS ≥ 2.12 with JetStream)")
		}
		return fmt.Errorf("ask the NATS server for its JetStream API level: %w", err)
	}
	if info.API.Level < MinAPILevel {
		return fmt.Errorf("%w: %s reports JetStream API level %d; userlife needs NATS server 2.12 or newer (API level ≥ %d), "+
			"because older servers silently ignore the optimistic-concurrency header it relies on; upgrade the server "+
			"(or let `userlife serve` run its embedded one by leaving out --nats)", ErrServerTooOld, js.Conn().ConnectedServerVersion(), info.API.Level, MinAPILevel)
	}
	return nil
}
