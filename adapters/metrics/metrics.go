package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/userlife/userlife/events"
)

// Metric names.
const (
	CommandsTotal          = "userlife_commands_total"
	CommandSeconds         = "userlife_command_seconds"
	AppendSeconds          = "userlife_append_seconds"
	ProjectionLag          = "userlife_projection_lag_events"
	ProjectionCheckpoint   = "userlife_projection_checkpoint"
	RevocationViewRevision = "userlife_revocation_view_revision"
)

// UnknownCommand is the command label of outcomes for command names the
// service does not know (published on an arbitrary subject), so a client
// cannot grow the label set.
const UnknownCommand = "unknown"

// Buckets of the latency histograms, in seconds.
var (
	// AppendBuckets spans a loopback append to an embedded server
	// (~40 µs) up to a slow replicated write.
	AppendBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}
	// CommandBuckets spans a cached decision up to the slowest retried one.
	CommandBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
)

// Metrics is the registry serve exposes. Its zero value is not usable;
// build it with New.
type Metrics struct {
	reg      *prometheus.Registry
	log      *slog.Logger
	known    map[string]bool
	commands *prometheus.CounterVec
	took     *prometheus.HistogramVec
	appends  prometheus.Histogram

	mu      sync.Mutex
	tracked *projectionCollector
}

// New registers the command and append metrics and the Go runtime and
// process collectors on a registry of its own.
func New(log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg:   prometheus.NewRegistry(),
		log:   log,
		known: map[string]bool{},
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: CommandsTotal,
			Help: "Command outcomes published, by command, status (accepted, unchanged, rejected) and rejection code.",
		}, []string{"command", "status", "code"}),
		took: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    CommandSeconds,
			Help:    "Seconds from the intake taking a command off the queue to its outcome being stored.",
			Buckets: CommandBuckets,
		}, []string{"command"}),
		appends: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    AppendSeconds,
			Help:    "Seconds per append of a command's events to the event stream, conflicts included.",
			Buckets: AppendBuckets,
		}),
	}
	for _, n := range events.CommandNames() {
		m.known[n] = true
		// Present from the start, so rate() sees the first command.
		for _, s := range []events.Status{events.StatusAccepted, events.StatusUnchanged} {
			m.commands.WithLabelValues(n, string(s), "")
		}
		m.took.WithLabelValues(n)
	}
	m.reg.MustRegister(m.commands, m.took, m.appends,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the registry, for callers that add their own collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text or protobuf format,
// whichever the scraper asks for. A collector that fails is reported in the
// log and left out; the rest is still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          m.reg, // promhttp_metric_handler_errors_total
		Timeout:           10 * time.Second,
		EnableOpenMetrics: true,
	})
}

// Outcome counts one published outcome; took is the time from the intake
// taking the command to its outcome being stored (0: unknown, not
// observed).
func (m *Metrics) Outcome(o events.Outcome, took time.Duration) {
	cmd := o.Command
	if !m.known[cmd] {
		cmd = UnknownCommand
	}
	// Timed before counted: a scraper that sees the count sees the time.
	if took > 0 {
		m.took.WithLabelValues(cmd).Observe(took.Seconds())
	}
	m.commands.WithLabelValues(cmd, string(o.Status), o.Code).Inc()
}

// ObserveAppend records the duration of one append.
func (m *Metrics) ObserveAppend(d time.Duration) { m.appends.Observe(d.Seconds()) }

// Projection is a read model whose progress is reported. Name becomes the
// projection label; it must be unique among the tracked projections.
type Projection struct {
	Name       string
	Checkpoint func(ctx context.Context) (uint64, error)
}

// Sources are what the projection gauges are computed from at scrape time.
type Sources struct {
	// StreamHead is the event stream's last sequence.
	StreamHead func(ctx context.Context) (uint64, error)
	// Projections are the read models to report.
	Projections []Projection
	// ViewRevision is the revocation view's revision (the last stream
	// sequence folded into it); nil leaves the gauge out.
	ViewRevision func() uint64
	// Timeout bounds one collection of the sources (default 5s).
	Timeout time.Duration
}

// Track registers the projection gauges; call it once the read side runs.
func (m *Metrics) Track(src Sources) error {
	if src.StreamHead == nil {
		return errors.New("metrics: Sources.StreamHead is required")
	}
	var names []string
	for _, p := range src.Projections {
		if p.Name == "" || p.Checkpoint == nil {
			return errors.New("metrics: every projection needs a name and a Checkpoint")
		}
		if slices.Contains(names, p.Name) {
			return errors.New("metrics: projection " + p.Name + " is listed twice")
		}
		names = append(names, p.Name)
	}
	if src.Timeout <= 0 {
		src.Timeout = 5 * time.Second
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tracked != nil {
		return errors.New("metrics: projections are tracked already")
	}
	c := newProjectionCollector(src)
	if err := m.reg.Register(c); err != nil {
		return err
	}
	m.tracked = c
	return nil
}

// Lags reads every tracked projection's checkpoint and the stream head
// (nil before Track).
func (m *Metrics) Lags(ctx context.Context) ([]Lag, error) {
	m.mu.Lock()
	c := m.tracked
	m.mu.Unlock()
	if c == nil {
		return nil, errors.New("projections are not tracked yet")
	}
	return c.lags(ctx)
}
