package benchkit

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Distribution is a named set of latencies, drawn as a CDF.
type Distribution struct {
	Name      string          `json:"name"`
	Group     string          `json:"group"` // one chart per group
	Latencies []time.Duration `json:"-"`
	P50Ms     float64         `json:"p50_ms"`
	P99Ms     float64         `json:"p99_ms"`
	Count     int             `json:"count"`
}

// Point is a throughput at a concurrency.
type Point struct {
	InFlight int     `json:"in_flight"`
	PerSec   float64 `json:"per_sec"`
}

// Curve is a throughput against concurrency.
type Curve struct {
	Name   string  `json:"name"`
	Points []Point `json:"points"`
}

// Report is a whole run.
type Report struct {
	Started  time.Time      `json:"started"`
	Seconds  float64        `json:"seconds"`
	Machine  Machine        `json:"machine"`
	Settings map[string]any `json:"settings"`
	Figures  []Figure       `json:"figures"`
	Curves   []Curve        `json:"throughput"`
	Latency  []Distribution `json:"latency"`
}

// Add appends figures.
func (r *Report) Add(f ...Figure) { r.Figures = append(r.Figures, f...) }

// AddLatency records a latency distribution for the charts.
func (r *Report) AddLatency(group, name string, lat []time.Duration) {
	s := Sorted(lat)
	r.Latency = append(r.Latency, Distribution{Name: name, Group: group, Latencies: s,
		P50Ms: Ms(Quantile(s, 0.5)), P99Ms: Ms(Quantile(s, 0.99)), Count: len(s)})
}

// AddPoint adds a throughput point to the named curve.
func (r *Report) AddPoint(curve string, inflight int, perSec float64) {
	for i := range r.Curves {
		if r.Curves[i].Name == curve {
			r.Curves[i].Points = append(r.Curves[i].Points, Point{inflight, perSec})
			return
		}
	}
	r.Curves = append(r.Curves, Curve{Name: curve, Points: []Point{{inflight, perSec}}})
}

// Missed lists the figures whose target was not met.
func (r *Report) Missed() []Figure {
	var out []Figure
	for _, f := range r.Figures {
		if f.Met != nil && !*f.Met {
			out = append(out, f)
		}
	}
	return out
}

// WriteTable prints the figures as one table.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\traw anchor\tratio\ttarget\tmet")
	for _, f := range r.Figures {
		met := "—"
		if f.Met != nil {
			met = map[bool]string{true: "met", false: "MISSED"}[*f.Met]
		}
		anchor := "—"
		if f.AnchorName != "" {
			anchor = Num(f.Anchor) + " " + f.Unit + " (" + f.AnchorName + ")"
		}
		target := f.Target
		if target == "" {
			target = "—"
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\t%s\t%s\n", f.Name, Num(f.Value), f.Unit, anchor, f.RatioText(), target, met)
	}
	return tw.Flush()
}

// WriteJSON writes the report to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Num formats a figure: thousands separated, three significant digits
// for small values.
func Num(v float64) string {
	switch {
	case v >= 1000 || v <= -1000:
		s := strconv.FormatInt(int64(v+0.5), 10)
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 && c != '-' && s[i-1] != '-' {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		return b.String()
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}
