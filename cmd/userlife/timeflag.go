package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseWhen reads a time flag: an RFC 3339 instant (2026-05-01T12:00:00Z),
// a UTC date (2026-05-01), or a duration back from now (24h, 90m, 7d).
func parseWhen(flag, s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.ParseFloat(days, 64); err == nil && n >= 0 {
			return now.Add(-time.Duration(n * 24 * float64(time.Hour))).UTC(), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("--%s %q: want an RFC 3339 time (2026-05-01T12:00:00Z), a date (2026-05-01, UTC) or a duration back from now (24h, 90m, 7d)", flag, s)
}
