package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// Query subjects, served by every `userlife serve` (a queue group spreads
// requests over them). `nats micro ls` lists the service.
const (
	QueryPrefix           = "userlife.query."
	QueryListUsers        = QueryPrefix + "users.list"
	QueryGetUser          = QueryPrefix + "users.get"
	QueryHistory          = QueryPrefix + "users.history"
	QueryPositions        = QueryPrefix + "positions"
	QueryFailures         = QueryPrefix + "failures"
	QueryWaitForPositions = QueryPrefix + "positions.wait"
)

// Error codes in query replies (the Nats-Service-Error-Code header).
const (
	queryCodeBadRequest = "400"
	queryCodeNotFound   = "404"
	queryCodeTimeout    = "408"
	queryCodeInternal   = "500"
)

// WaitRequest asks for a reply once projection has reached Seq.
type WaitRequest struct {
	Projection string `json:"projection"`
	Seq        uint64 `json:"seq"`
	TimeoutMS  int    `json:"timeout_ms"`
}

// ServeQueries answers read queries over NATS request-reply as a micro
// service named "userlife". Stop the returned service to stop answering.
func ServeQueries(nc *nats.Conn, q projections.Queries, version string) (micro.Service, error) {
	svc, err := micro.AddService(nc, micro.Config{
		Name:        "userlife",
		Version:     version,
		Description: "userlife read models: users, history, projection positions",
	})
	if err != nil {
		return nil, fmt.Errorf("query service: %w", err)
	}
	add := func(name, subject string, h func(ctx context.Context, data []byte) (any, error)) error {
		return svc.AddEndpoint(name, micro.HandlerFunc(func(r micro.Request) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := h(ctx, r.Data())
			if err != nil {
				code := queryCodeInternal
				var bad badRequest
				switch {
				case errors.As(err, &bad):
					code = queryCodeBadRequest
				case errors.Is(err, projections.ErrNotFound):
					code = queryCodeNotFound
				case errors.Is(err, context.DeadlineExceeded):
					code = queryCodeTimeout
				}
				_ = r.Error(code, err.Error(), nil)
				return
			}
			_ = r.RespondJSON(out)
		}), micro.WithEndpointSubject(subject))
	}
	errs := errors.Join(
		add("users_list", QueryListUsers, func(ctx context.Context, data []byte) (any, error) {
			var lq projections.ListQuery
			if err := decodeQuery(data, &lq); err != nil {
				return nil, err
			}
			lq, err := lq.Normalize()
			if err != nil {
				return nil, badRequest{err}
			}
			return q.ListUsers(ctx, lq)
		}),
		add("users_get", QueryGetUser, func(ctx context.Context, data []byte) (any, error) {
			var req struct {
				ID string `json:"id"`
			}
			if err := decodeQuery(data, &req); err != nil {
				return nil, err
			}
			if !events.ValidID(req.ID) {
				return nil, badRequest{fmt.Errorf("invalid user id %q", req.ID)}
			}
			return q.GetUser(ctx, req.ID)
		}),
		add("users_history", QueryHistory, func(ctx context.Context, data []byte) (any, error) {
			var req struct {
				UserID string `json:"user_id"`
			}
			if err := decodeQuery(data, &req); err != nil {
				return nil, err
			}
			if !events.ValidID(req.UserID) {
				return nil, badRequest{fmt.Errorf("invalid user id %q", req.UserID)}
			}
			return q.History(ctx, req.UserID)
		}),
		add("positions", QueryPositions, func(ctx context.Context, _ []byte) (any, error) {
			return q.Positions(ctx)
		}),
		add("failures", QueryFailures, func(ctx context.Context, _ []byte) (any, error) {
			return q.Failures(ctx)
		}),
		add("positions_wait", QueryWaitForPositions, func(ctx context.Context, data []byte) (any, error) {
			var req WaitRequest
			if err := decodeQuery(data, &req); err != nil {
				return nil, err
			}
			timeout := min(max(time.Duration(req.TimeoutMS)*time.Millisecond, 0), 25*time.Second)
			wctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return waitForPosition(wctx, q, req.Projection, req.Seq)
		}),
	)
	if errs != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("query service: %w", errs)
	}
	// The endpoints' subscriptions are on the server once it has answered
	// this flush: a query sent as soon as serve is up finds a responder
	// instead of "no responders".
	if err := nc.Flush(); err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("query service: %w", err)
	}
	return svc, nil
}

// waitForPosition polls until the projection's checkpoint reaches seq.
func waitForPosition(ctx context.Context, q projections.Queries, projection string, seq uint64) (map[string]uint64, error) {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		pos, err := q.Positions(ctx)
		if err != nil {
			return nil, err
		}
		p, ok := pos[projection]
		if !ok {
			return nil, badRequest{fmt.Errorf("unknown projection %q; known: %v", projection, projections.Names())}
		}
		if p >= seq {
			return pos, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("projection %s is at %d, not yet at %d: %w", projection, p, seq, ctx.Err())
		case <-tick.C:
		}
	}
}

type badRequest struct{ err error }

func (b badRequest) Error() string { return b.err.Error() }
func (b badRequest) Unwrap() error { return b.err }

func decodeQuery(data []byte, v any) error {
	if len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return badRequest{fmt.Errorf("query is not the expected JSON: %w", err)}
	}
	return nil
}
