package nats

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/userlife/userlife/events"
)

// Client sends commands to the queue and waits for their outcomes: what the
// CLI, tests and any Go admin tool use.
type Client struct {
	js      jetstream.JetStream
	results *Results
}

// NewClient binds to the provisioned streams.
func NewClient(ctx context.Context, js jetstream.JetStream) (*Client, error) {
	r, err := NewResults(ctx, js)
	if err != nil {
		return nil, err
	}
	return &Client{js: js, results: r}, nil
}

// Results gives access to stored outcomes.
func (c *Client) Results() *Results { return c.results }

// Send publishes cmd to its queue subject and returns its command id,
// assigning a UUIDv7 if cmd has none. The command id doubles as Nats-Msg-Id,
// so sending the same command twice within the duplicate window stores it
// once.
func (c *Client) Send(ctx context.Context, cmd events.Command) (string, error) {
	m := cmd.Meta()
	if err := assignCommandID(m); err != nil {
		return "", err
	}
	data, err := events.EncodeCommand(cmd)
	if err != nil {
		return "", err
	}
	msg := nats.NewMsg(events.CommandSubject(cmd.CommandName()))
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, m.CommandID)
	if _, err := c.js.PublishMsg(ctx, msg); err != nil {
		if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) {
			return "", fmt.Errorf("send %s: no command queue answered (is `userlife serve` running against this NATS server?): %w", cmd.CommandName(), err)
		}
		return "", fmt.Errorf("send %s: %w", cmd.CommandName(), err)
	}
	return m.CommandID, nil
}

// Do sends cmd and waits for its outcome.
func (c *Client) Do(ctx context.Context, cmd events.Command) (events.Outcome, error) {
	m := cmd.Meta()
	if err := assignCommandID(m); err != nil {
		return events.Outcome{}, err
	}
	w, err := c.results.Watch(m.CommandID)
	if err != nil {
		return events.Outcome{}, err
	}
	defer w.Close()
	if _, err := c.Send(ctx, cmd); err != nil {
		return events.Outcome{}, err
	}
	return w.Wait(ctx)
}

// assignCommandID gives a command without an id a new UUIDv7 and refuses
// an id the service would refuse: it becomes the Nats-Msg-Id header and a
// subject token, where CR/LF would smuggle in headers of its own and a dot
// or wildcard would watch the wrong outcome.
func assignCommandID(m *events.CommandMeta) error {
	if m.CommandID != "" {
		if !events.ValidID(m.CommandID) {
			return fmt.Errorf("invalid command id %q: want 1 to %d characters from [A-Za-z0-9_-]", m.CommandID, events.MaxIDLength)
		}
		return nil
	}
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	m.CommandID = id.String()
	return nil
}
