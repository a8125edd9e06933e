package benchkit

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// WritePlots draws one latency CDF per distribution group
// (bench-latency-<group>.png) and the throughput curves
// (bench-throughput.png) into dir, and returns the files written.
func (r *Report) WritePlots(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	var groups []string
	for _, d := range r.Latency {
		if !slices.Contains(groups, d.Group) {
			groups = append(groups, d.Group)
		}
	}
	for _, g := range groups {
		p := plot.New()
		p.Title.Text = "Latency distribution: " + g
		p.X.Label.Text = "latency (ms, log scale)"
		p.Y.Label.Text = "fraction of operations ≤ latency"
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Min, p.Y.Max = 0, 1
		p.Legend.Top = false
		p.Legend.Left = false
		p.Add(plotter.NewGrid())
		var lines []any
		for _, d := range r.Latency {
			if d.Group != g || len(d.Latencies) == 0 {
				continue
			}
			lines = append(lines, fmt.Sprintf("%s (p50 %s, p99 %s ms)", d.Name, Num(d.P50Ms), Num(d.P99Ms)), cdf(d))
		}
		if err := plotutil.AddLines(p, lines...); err != nil {
			return files, err
		}
		file := filepath.Join(dir, "bench-latency-"+slug(g)+".png")
		if err := p.Save(8*vg.Inch, 5*vg.Inch, file); err != nil {
			return files, err
		}
		files = append(files, file)
	}
	if len(r.Curves) > 0 {
		p := plot.New()
		p.Title.Text = "Throughput against operations in flight"
		p.X.Label.Text = "operations in flight (log scale)"
		p.Y.Label.Text = "operations per second (log scale)"
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Legend.Top = true
		p.Legend.Left = true
		p.Add(plotter.NewGrid())
		var lines []any
		for _, c := range r.Curves {
			xy := make(plotter.XYs, len(c.Points))
			for i, pt := range c.Points {
				xy[i] = plotter.XY{X: float64(pt.InFlight), Y: pt.PerSec}
			}
			lines = append(lines, c.Name, xy)
		}
		if err := plotutil.AddLinePoints(p, lines...); err != nil {
			return files, err
		}
		file := filepath.Join(dir, "bench-throughput.png")
		if err := p.Save(8*vg.Inch, 5*vg.Inch, file); err != nil {
			return files, err
		}
		files = append(files, file)
	}
	return files, nil
}

// cdf is the empirical distribution of d, thinned to at most 500 points.
func cdf(d Distribution) plotter.XYs {
	n := len(d.Latencies)
	step := max(n/500, 1)
	var xy plotter.XYs
	for i := 0; i < n; i += step {
		xy = append(xy, plotter.XY{X: max(Ms(d.Latencies[i]), 1e-4), Y: float64(i+1) / float64(n)})
	}
	xy = append(xy, plotter.XY{X: max(Ms(d.Latencies[n-1]), 1e-4), Y: 1})
	return xy
}

func slug(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, s)
}
