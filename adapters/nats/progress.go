package nats

import (
	"context"
	"time"
)

// progress logs a long catch-up: where it is, how fast, how far to go.
type progress struct {
	pr       *Projector
	start    uint64
	head     uint64
	began    time.Time
	last     time.Time
	reported bool
}

// catchUpWorthReporting is how far behind a projector must start for its
// progress to be logged.
const catchUpWorthReporting = 10_000

func newProgress(ctx context.Context, pr *Projector, from, until uint64) *progress {
	head := until
	if head == 0 {
		if h, err := streamHead(ctx, pr.js); err == nil {
			head = h
		}
	}
	now := time.Now()
	return &progress{pr: pr, start: from, head: head, began: now, last: now}
}

func (p *progress) report(pos uint64) {
	if p.head < p.start+catchUpWorthReporting {
		return
	}
	now := time.Now()
	done := pos >= p.head
	if !done && now.Sub(p.last) < p.pr.cfg.ProgressEvery {
		return
	}
	if done && !p.reported && now.Sub(p.began) < p.pr.cfg.ProgressEvery {
		return // quick enough not to mention
	}
	p.last, p.reported = now, true
	rate := float64(pos-p.start) / max(now.Sub(p.began).Seconds(), 1e-3)
	total := p.head - p.start
	pct := 100 * float64(min(pos, p.head)-p.start) / float64(total)
	if done {
		p.pr.log.Info("projection caught up", "events", pos-p.start, "seconds", now.Sub(p.began).Round(time.Millisecond).Seconds(),
			"events_per_second", int(rate))
		p.head = 0 // report once
		return
	}
	p.pr.log.Info("projection catching up", "position", pos, "head", p.head,
		"percent", int(pct), "events_per_second", int(rate))
}
