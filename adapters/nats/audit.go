package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// AuditConfig tunes an AuditLog. Zero values take the defaults shown.
type AuditConfig struct {
	// ClockMargin is how far an event's occurred_at (the service's clock
	// when it decided) may lie from the time JetStream stored it (the
	// server's clock). Time filters apply to occurred_at; the scan starts
	// at the events stored at Since − ClockMargin and stops at the first
	// event stored after Until + ClockMargin.
	ClockMargin time.Duration // 1m
	// Progress, when set, is called about every ProgressEvery during a
	// scan, and once at its end.
	Progress      func(ScanProgress)
	ProgressEvery time.Duration // 1s
	// PullMaxMessages is how many messages the ordered consumer keeps
	// buffered ahead of the reader.
	PullMaxMessages int // 2000
}

func (c *AuditConfig) setDefaults() {
	if c.ClockMargin <= 0 {
		c.ClockMargin = time.Minute
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = time.Second
	}
	if c.PullMaxMessages <= 0 {
		c.PullMaxMessages = 2000
	}
}

// ScanProgress says how far a scan is.
type ScanProgress struct {
	Scanned uint64        // messages read from the stream
	Matched uint64        // messages passed to the caller
	Total   uint64        // messages the server selected when the scan began (0 when unknown)
	Elapsed time.Duration // since the scan began
	Done    bool          // the last report of the scan
}

// Rate is messages scanned per second.
func (p ScanProgress) Rate() float64 {
	return float64(p.Scanned) / max(p.Elapsed.Seconds(), 1e-6)
}

// Record is one stored message of the event stream, undecoded: its body
// is exactly the bytes stored. UserID and Type come from the subject. Data
// is read-only: the audit rows made from it share its memory.
type Record struct {
	Seq     uint64
	Subject string
	Stored  time.Time // when JetStream stored it
	Data    []byte
	Header  nats.Header
	UserID  string
	Type    events.Type

	env *events.RawEnvelope // the envelope, once a filter has read it
}

// envelope reads r's envelope, once: a scan's filters and its rows share
// the reading.
func (r *Record) envelope() (*events.RawEnvelope, error) {
	if r.env == nil {
		var env events.RawEnvelope
		if err := events.ReadEnvelope(r.Data, &env); err != nil {
			return nil, err
		}
		r.env = &env
	}
	return r.env, nil
}

// AuditLog reads the event stream for audits, exports and past states:
// straight from JetStream, with the selection done by the server where the
// subject layout allows (user, type, start time).
type AuditLog struct {
	js  jetstream.JetStream
	cfg AuditConfig

	vaultMu sync.Mutex // guards keys, bound on first use
	keys    *KeyVault
}

var _ projections.AuditLogReader = (*AuditLog)(nil)

// NewAuditLog reads the event stream through js.
func NewAuditLog(js jetstream.JetStream, cfg AuditConfig) *AuditLog {
	cfg.setDefaults()
	return &AuditLog{js: js, cfg: cfg}
}

// Records is Scan as an iterator; breaking out of the loop ends the scan.
func (l *AuditLog) Records(ctx context.Context, q projections.AuditQuery) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		stop := errors.New("stop")
		err := l.Scan(ctx, q, func(r Record) error {
			if !yield(r, nil) {
				return stop
			}
			return nil
		})
		if err != nil && !errors.Is(err, stop) {
			yield(Record{}, err)
		}
	}
}

// Scan calls fn with every stored message that matches q, in stream order,
// up to the stream's last message when the scan began. User and types are
// selected by the server (subject filters); a start time positions the
// scan; the actor and the exact time bounds are checked here, on a light
// decoding of the envelope (the payload is never decoded). A message whose
// envelope cannot be read matches no actor or time filter. An error from
// fn ends the scan and is returned.
func (l *AuditLog) Scan(ctx context.Context, q projections.AuditQuery, fn func(Record) error) error {
	if err := q.Validate(); err != nil {
		return err
	}
	match := l.clientFilter(q)
	if q.UserID != "" {
		return l.scanUser(ctx, q, match, fn)
	}
	return l.scanStream(ctx, streamScan{
		filters: typeFilters(q.Types),
		since:   q.Since,
		until:   q.Until,
	}, match, fn)
}

// clientFilter returns the part of q the server cannot check, or nil.
func (l *AuditLog) clientFilter(q projections.AuditQuery) func(*Record) bool {
	if q.Actor == "" && q.Since.IsZero() && q.Until.IsZero() {
		return nil
	}
	return func(r *Record) bool {
		h, ok := readHead(r)
		return ok && (q.Actor == "" || h.Actor == q.Actor) &&
			(q.Since.IsZero() || !h.OccurredAt.Before(q.Since)) &&
			(q.Until.IsZero() || !h.OccurredAt.After(q.Until))
	}
}

// readHead reads the envelope's head: through the reflection-free reader
// when the whole envelope reads (the common case), else through
// encoding/json, which reads the head of envelopes whose other fields it
// cannot.
func readHead(r *Record) (envelopeHead, bool) {
	if env, err := r.envelope(); err == nil {
		return envelopeHead{OccurredAt: env.OccurredAt, Actor: env.Actor}, true
	}
	var h envelopeHead
	return h, json.Unmarshal(r.Data, &h) == nil
}

// envelopeHead is the part of the envelope the client-side filters read.
type envelopeHead struct {
	OccurredAt time.Time `json:"occurred_at"`
	Actor      string    `json:"actor"`
}

func typeFilters(types []events.Type) []string {
	var out []string
	for _, t := range types {
		s := events.EventSubjectPrefix + "*." + string(t)
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// streamScan is one ordered-consumer reading of the stream.
type streamScan struct {
	filters  []string  // server-side subject filters; none: every event
	since    time.Time // occurred_at lower bound (the start is positioned before it)
	storedAt time.Time // start at the first message stored at or after this (exact)
	until    time.Time // occurred_at upper bound (the scan stops past it)
	afterSeq uint64    // start after this sequence
}

// scanStream reads the stream with an ordered consumer from the start the
// scan asks for to the stream's last sequence at the beginning.
func (l *AuditLog) scanStream(ctx context.Context, sc streamScan, match func(*Record) bool, fn func(Record) error) error {
	s, err := l.js.Stream(ctx, EventsStream)
	if err != nil {
		return fmt.Errorf("open stream %s: %w", EventsStream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: %w", EventsStream, err)
	}
	head := info.State.LastSeq
	began := time.Now()
	prog := ScanProgress{}
	report := func(done bool) {
		if l.cfg.Progress != nil {
			prog.Elapsed, prog.Done = time.Since(began), done
			l.cfg.Progress(prog)
		}
	}
	if head == 0 || sc.afterSeq >= head {
		report(true)
		return nil
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: sc.filters, DeliverPolicy: jetstream.DeliverAllPolicy}
	start := sc.storedAt
	if !sc.since.IsZero() {
		start = sc.since.Add(-l.cfg.ClockMargin)
	}
	switch {
	case sc.afterSeq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, sc.afterSeq+1
	case !start.IsZero():
		t := start.UTC()
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	cons, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("ordered consumer on %s: %w", EventsStream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(l.cfg.PullMaxMessages))
	if err != nil {
		return fmt.Errorf("read %s: %w", EventsStream, err)
	}
	defer it.Stop()
	ci, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("consumer info on %s: %w", EventsStream, err)
	}
	prog.Total = ci.NumPending + ci.Delivered.Consumer
	if prog.Total == 0 {
		report(true)
		return nil
	}
	var stopAfter time.Time
	if !sc.until.IsZero() {
		stopAfter = sc.until.Add(l.cfg.ClockMargin)
	}
	// it.Next does not watch ctx: stop the iterator when ctx ends.
	stopWatch := context.AfterFunc(ctx, it.Stop)
	defer stopWatch()
	lastReport := began
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read %s after %d messages: %w", EventsStream, prog.Scanned, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("read %s: %w", EventsStream, err)
		}
		seq := md.Sequence.Stream
		if seq > head || (!stopAfter.IsZero() && md.Timestamp.After(stopAfter)) {
			break
		}
		prog.Scanned++
		r := Record{Seq: seq, Subject: m.Subject(), Stored: md.Timestamp, Data: m.Data(), Header: m.Headers()}
		r.UserID, r.Type, _ = events.ParseEventSubject(r.Subject)
		if match == nil || match(&r) {
			prog.Matched++
			if err := fn(r); err != nil {
				return err
			}
		}
		if seq == head || md.NumPending == 0 {
			break
		}
		if l.cfg.Progress != nil && prog.Scanned%1024 == 0 {
			if now := time.Now(); now.Sub(lastReport) >= l.cfg.ProgressEvery {
				lastReport = now
				report(false)
			}
		}
	}
	report(true)
	return nil
}
