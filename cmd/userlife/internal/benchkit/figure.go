package benchkit

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Kind says how a figure and its anchor compare.
type Kind string

const (
	// Rate figures (per second): the ratio is value ÷ anchor as a
	// percentage of raw; higher is better.
	Rate Kind = "rate"
	// Cost figures (time, bytes): the ratio is value ÷ anchor as a
	// multiple of raw; lower is better.
	Cost Kind = "cost"
)

// Figure is one line of the report.
type Figure struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	Kind   Kind    `json:"kind"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Anchor float64 `json:"anchor"`
	// AnchorName says what the anchor measured.
	AnchorName string `json:"anchor_name"`
	// Ratio is Value ÷ Anchor (0 when the anchor is 0).
	Ratio float64 `json:"ratio"`
	// Target is the goal in words ("" if none) and Met whether this run
	// reached it (nil without a target).
	Target string `json:"target,omitempty"`
	Met    *bool  `json:"met,omitempty"`
	Note   string `json:"note,omitempty"`
}

// NewFigure fills the ratio.
func NewFigure(id, name string, kind Kind, value float64, unit string, anchor float64, anchorName string) Figure {
	f := Figure{ID: id, Name: name, Kind: kind, Value: value, Unit: unit, Anchor: anchor, AnchorName: anchorName}
	if anchor != 0 {
		f.Ratio = value / anchor
	}
	return f
}

// WithTarget sets the target and whether it was met.
func (f Figure) WithTarget(target string, met bool) Figure {
	f.Target, f.Met = target, &met
	return f
}

// WithNote adds a remark.
func (f Figure) WithNote(note string) Figure {
	f.Note = note
	return f
}

// RatioText is the ratio as the table prints it.
func (f Figure) RatioText() string {
	if f.Anchor == 0 {
		return "—"
	}
	if f.Kind == Rate {
		return fmt.Sprintf("%.1f %%", 100*f.Ratio)
	}
	return fmt.Sprintf("%.2f×", f.Ratio)
}

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// Quantile is the q-quantile of sorted durations (0 for none).
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(math.Round(q*float64(len(sorted)-1)))]
}

// Sorted returns a sorted copy of d.
func Sorted(d []time.Duration) []time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s
}
