package watermill

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	wm "github.com/ThreeDotsLabs/watermill"
	"github.com/nats-io/nats.go"

	"github.com/userlife/userlife/events"
)

// unknownCommands answers commands published on a subject under
// userlife.cmd. that names no command. The command stream only takes known
// subjects, so these would otherwise vanish (a core publish) or fail with a
// bare "no responders" (a JetStream publish). A queue subscription spreads
// them over the running services; each gets a rejected outcome, a copy in
// the poison stream, and, if the publisher waits for a JetStream ack, an
// API error naming the problem.
type unknownCommands struct {
	in       *Intake
	mu       sync.Mutex
	nc       *nats.Conn
	known    map[string]bool
	stopOnce sync.Once
}

func (u *unknownCommands) start() error {
	u.known = make(map[string]bool)
	for _, n := range events.CommandNames() {
		u.known[n] = true
	}
	nc, err := nats.Connect(u.in.cfg.NATSURL, append(append([]nats.Option{nats.Name("userlife-unknown-commands")}, u.in.cfg.NATSOptions...),
		nats.DrainTimeout(u.in.cfg.CloseTimeout))...)
	if err != nil {
		return fmt.Errorf("command intake: %w", err)
	}
	if _, err := nc.QueueSubscribe(events.CommandSubjectPrefix+">", "userlife-unknown-commands", u.onMsg); err != nil {
		nc.Close()
		return fmt.Errorf("command intake: subscribe to unknown commands: %w", err)
	}
	u.mu.Lock()
	u.nc = nc
	u.mu.Unlock()
	return nil
}

// stop drains the subscription and returns once the server no longer
// routes unknown commands here and those received are answered (Drain alone
// returns at once, while the server may still deliver).
func (u *unknownCommands) stop() {
	u.stopOnce.Do(func() {
		u.mu.Lock()
		nc := u.nc
		u.mu.Unlock()
		if nc == nil {
			return
		}
		closed := nc.StatusChanged(nats.CLOSED)
		if err := nc.Drain(); err == nil {
			t := time.NewTimer(u.in.cfg.CloseTimeout + time.Second)
			select {
			case <-closed:
			case <-t.C:
			}
			t.Stop()
		}
		nc.Close()
		u.mu.Lock()
		u.nc = nil
		u.mu.Unlock()
	})
}

func (u *unknownCommands) onMsg(m *nats.Msg) {
	taken := time.Now()
	name := strings.TrimPrefix(m.Subject, events.CommandSubjectPrefix)
	if u.known[name] {
		return // the command stream has it
	}
	var p struct {
		CommandID string `json:"command_id"`
		UserID    string `json:"user_id"`
	}
	_ = json.Unmarshal(m.Data, &p)
	id := p.CommandID
	if !events.ValidID(id) {
		id = m.Header.Get("Nats-Msg-Id")
	}
	if !events.ValidID(id) {
		id = wm.NewUUID()
	}
	if !events.ValidID(p.UserID) {
		p.UserID = ""
	}
	ce := events.Errorf(events.CodeUnknownCommand, "unknown command %q (subject %s); known: %s",
		name, m.Subject, strings.Join(events.CommandNames(), ", "))
	out := events.Outcome{CommandID: id, Command: name, Status: events.StatusRejected,
		Code: ce.Code, Message: ce.Message, UserID: p.UserID}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := u.in.cfg.Outcomes.Publish(ctx, out); err != nil {
		u.in.log.Error("publish outcome of unknown command", "subject", m.Subject, "err", err)
	} else {
		u.in.published(out, taken)
	}
	poison := nats.NewMsg(PoisonTopic)
	poison.Data = m.Data
	poison.Header.Set("reason_poisoned", ce.Error())
	poison.Header.Set("topic_poisoned", m.Subject)
	poison.Header.Set("command_id", id)
	u.mu.Lock()
	nc := u.nc
	u.mu.Unlock()
	if nc != nil {
		if _, err := nc.RequestMsg(poison, 5*time.Second); err != nil {
			u.in.log.Error("store unknown command in the poison stream", "subject", m.Subject, "err", err)
		}
	}
	u.in.log.Warn("unknown command rejected", "subject", m.Subject, "command_id", id)
	if m.Reply != "" {
		// JetStream publishers read this as an API error.
		resp, _ := json.Marshal(map[string]any{"error": map[string]any{
			"code": 404, "description": ce.Error(),
		}})
		_ = m.Respond(resp)
	}
}
