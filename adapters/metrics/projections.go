package metrics

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Lag is one projection's progress against the event stream.
type Lag struct {
	Projection string
	Checkpoint uint64 // last stream sequence applied
	Head       uint64 // the stream's last sequence
	Events     uint64 // Head - Checkpoint
	Err        error  // the checkpoint could not be read; the rest is zero
}

// projectionCollector computes the projection gauges when scraped, so they
// are never older than the scrape.
type projectionCollector struct {
	src        Sources
	lag        *prometheus.Desc
	checkpoint *prometheus.Desc
	revision   *prometheus.Desc
}

func newProjectionCollector(src Sources) *projectionCollector {
	return &projectionCollector{
		src: src,
		lag: prometheus.NewDesc(ProjectionLag,
			"Events in the event stream not yet applied to the projection (stream last sequence minus checkpoint).",
			[]string{"projection"}, nil),
		checkpoint: prometheus.NewDesc(ProjectionCheckpoint,
			"Last event stream sequence applied to the projection.",
			[]string{"projection"}, nil),
		revision: prometheus.NewDesc(RevocationViewRevision,
			"Revision of the revocation view this process keeps and announces in its heartbeats (last stream sequence folded in).",
			nil, nil),
	}
}

func (c *projectionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lag
	ch <- c.checkpoint
	if c.src.ViewRevision != nil {
		ch <- c.revision
	}
}

func (c *projectionCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.src.Timeout)
	defer cancel()
	if c.src.ViewRevision != nil {
		ch <- prometheus.MustNewConstMetric(c.revision, prometheus.GaugeValue, float64(c.src.ViewRevision()))
	}
	lags, err := c.lags(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.lag, err)
		return
	}
	for _, l := range lags {
		if l.Err != nil {
			ch <- prometheus.NewInvalidMetric(c.lag, l.Err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.checkpoint, prometheus.GaugeValue, float64(l.Checkpoint), l.Projection)
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(l.Events), l.Projection)
	}
}

// lags reads the checkpoints first and the head after: the stream only
// grows, so the head read later is never below a checkpoint read before.
// A checkpoint that cannot be read is reported in its Lag; a head that
// cannot be read fails the whole.
func (c *projectionCollector) lags(ctx context.Context) ([]Lag, error) {
	lags := make([]Lag, len(c.src.Projections))
	for i, p := range c.src.Projections {
		lags[i].Projection = p.Name
		cp, err := p.Checkpoint(ctx)
		if err != nil {
			lags[i].Err = fmt.Errorf("checkpoint of projection %s: %w", p.Name, err)
			continue
		}
		lags[i].Checkpoint = cp
	}
	head, err := c.src.StreamHead(ctx)
	if err != nil {
		return nil, fmt.Errorf("event stream head: %w", err)
	}
	for i := range lags {
		if lags[i].Err != nil {
			continue
		}
		lags[i].Head = head
		if head > lags[i].Checkpoint {
			lags[i].Events = head - lags[i].Checkpoint
		}
	}
	return lags, nil
}
