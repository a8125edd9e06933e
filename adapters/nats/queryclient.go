package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/userlife/userlife/projections"
)

// QueryClient reads the projections of a running `userlife serve` over
// NATS, whichever store it uses.
type QueryClient struct {
	nc *nats.Conn
}

var _ projections.Queries = (*QueryClient)(nil)

// NewQueryClient uses nc for requests.
func NewQueryClient(nc *nats.Conn) *QueryClient { return &QueryClient{nc: nc} }

// ErrNoQueryService means no `userlife serve` answered.
var ErrNoQueryService = errors.New("no userlife query service answered (is `userlife serve` running against this NATS server?)")

func (c *QueryClient) call(ctx context.Context, subject string, req, resp any) error {
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	msg, err := c.nc.RequestWithContext(ctx, subject, data)
	if errors.Is(err, nats.ErrNoResponders) {
		return ErrNoQueryService
	}
	if err != nil {
		return fmt.Errorf("query %s: %w", subject, err)
	}
	if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
		desc := msg.Header.Get(micro.ErrorHeader)
		switch code {
		case queryCodeNotFound:
			return fmt.Errorf("%s: %w", desc, projections.ErrNotFound)
		case queryCodeTimeout:
			return fmt.Errorf("%s: %w", desc, context.DeadlineExceeded)
		}
		return fmt.Errorf("query %s: %s (code %s)", subject, desc, code)
	}
	if err := json.Unmarshal(msg.Data, resp); err != nil {
		return fmt.Errorf("query %s: decode reply: %w", subject, err)
	}
	return nil
}

func (c *QueryClient) ListUsers(ctx context.Context, q projections.ListQuery) (projections.UserPage, error) {
	var page projections.UserPage
	err := c.call(ctx, QueryListUsers, q, &page)
	return page, err
}

func (c *QueryClient) GetUser(ctx context.Context, id string) (projections.User, error) {
	var u projections.User
	err := c.call(ctx, QueryGetUser, map[string]string{"id": id}, &u)
	return u, err
}

func (c *QueryClient) History(ctx context.Context, userID string) ([]projections.AuditEvent, error) {
	var h []projections.AuditEvent
	err := c.call(ctx, QueryHistory, map[string]string{"user_id": userID}, &h)
	return h, err
}

func (c *QueryClient) Failures(ctx context.Context) ([]projections.Failure, error) {
	var f []projections.Failure
	err := c.call(ctx, QueryFailures, struct{}{}, &f)
	return f, err
}

func (c *QueryClient) Positions(ctx context.Context) (map[string]uint64, error) {
	var p map[string]uint64
	err := c.call(ctx, QueryPositions, struct{}{}, &p)
	return p, err
}

// WaitFor returns once projection has applied the event at seq: a command's
// effect is then visible to queries (read-your-writes).
func (c *QueryClient) WaitFor(ctx context.Context, projection string, seq uint64) error {
	timeout := 25 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(time.Until(dl), timeout)
	}
	var p map[string]uint64
	return c.call(ctx, QueryWaitForPositions, WaitRequest{Projection: projection, Seq: seq, TimeoutMS: int(timeout.Milliseconds())}, &p)
}
