package faults

import (
	"fmt"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/userlife/userlife/events"
)

// copies records every outcome published while the test runs (a core
// subscription, so copies published while the test's connection is down
// are not seen). The results stream keeps only the last outcome of each
// command; this shows whether a command answered twice was answered the
// same way twice.
type copies struct {
	mu  sync.Mutex
	got map[string][]events.Outcome
	sub *nats.Subscription
}

func watchCopies(t *testing.T, nc *nats.Conn) *copies {
	t.Helper()
	c := &copies{got: map[string][]events.Outcome{}}
	sub, err := nc.Subscribe(events.ResultSubjectPrefix+">", func(m *nats.Msg) {
		o, err := events.DecodeOutcome(m.Data)
		if err != nil {
			return
		}
		c.mu.Lock()
		c.got[o.CommandID] = append(c.got[o.CommandID], o)
		c.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	sub.SetPendingLimits(-1, -1)
	c.sub = sub
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return c
}

// differing returns the commands seen answered more than once with
// outcomes that differ (status, code or event sequence), and how many
// commands were seen answered more than once.
func (c *copies) differing() (diff []string, repeated int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, outs := range c.got {
		if len(outs) < 2 {
			continue
		}
		repeated++
		for _, o := range outs[1:] {
			if o.Status != outs[0].Status || o.Code != outs[0].Code || o.EventSeq != outs[0].EventSeq {
				diff = append(diff, fmt.Sprintf("%s (%s %s): %s", id, outs[0].Command, outs[0].UserID, describe(outs)))
				break
			}
		}
	}
	return diff, repeated
}

func describe(outs []events.Outcome) string {
	s := ""
	for i, o := range outs {
		if i > 0 {
			s += " then "
		}
		s += string(o.Status)
		if o.Code != "" {
			s += " " + o.Code
		}
		if o.EventSeq != 0 {
			s += fmt.Sprintf(" at %d", o.EventSeq)
		}
	}
	return s
}
