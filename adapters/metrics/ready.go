package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Check is one readiness check.
type Check struct {
	Name string
	// Run says what it found; an error fails the check and is its detail.
	Run func(ctx context.Context) (detail string, err error)
	// Gate: when this check fails, the checks after it are not run (they
	// would only wait for the same failure) and fail as "not checked".
	Gate bool
}

// CheckResult is one check's entry in the /readyz answer.
type CheckResult struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Report is the /readyz answer.
type Report struct {
	Ready  bool          `json:"ready"`
	Checks []CheckResult `json:"checks"`
}

// Err is nil when ready, else names the failed checks.
func (r Report) Err() error {
	if r.Ready {
		return nil
	}
	var failed []string
	for _, c := range r.Checks {
		if !c.OK {
			failed = append(failed, c.Name+": "+c.Detail)
		}
	}
	return errors.New("not ready: " + strings.Join(failed, "; "))
}

// Readiness runs the checks in order on every request.
type Readiness struct {
	checks  []Check
	timeout time.Duration
}

// NewReadiness runs checks, each bounded by timeout (default 3s).
func NewReadiness(timeout time.Duration, checks ...Check) *Readiness {
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	return &Readiness{checks: checks, timeout: timeout}
}

// Check runs every check.
func (r *Readiness) Check(ctx context.Context) Report {
	rep := Report{Ready: true, Checks: make([]CheckResult, 0, len(r.checks))}
	gate := ""
	for _, c := range r.checks {
		res := CheckResult{Name: c.Name}
		if gate != "" {
			res.Detail = "not checked: " + gate + " failed"
		} else {
			cctx, cancel := context.WithTimeout(ctx, r.timeout)
			detail, err := c.Run(cctx)
			cancel()
			res.OK, res.Detail = err == nil, detail
			if err != nil {
				res.Detail = err.Error()
				if c.Gate {
					gate = c.Name
				}
			}
		}
		rep.Ready = rep.Ready && res.OK
		rep.Checks = append(rep.Checks, res)
	}
	return rep
}

// Ready is Check as an error (nil when ready).
func (r *Readiness) Ready(ctx context.Context) error { return r.Check(ctx).Err() }

// ServeHTTP answers 200 when every check passes, else 503, with the
// Report as JSON either way.
func (r *Readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rep := r.Check(req.Context())
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !rep.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(rep)
}

// ProjectionsCheck passes when every tracked projection is at most maxLag
// events behind the event stream.
func (m *Metrics) ProjectionsCheck(maxLag uint64) Check {
	return Check{Name: "projections", Run: func(ctx context.Context) (string, error) {
		lags, err := m.Lags(ctx)
		if err != nil {
			return "", err
		}
		var parts, behind, failed []string
		for _, l := range lags {
			switch {
			case l.Err != nil:
				failed = append(failed, l.Err.Error())
			case l.Events > maxLag:
				behind = append(behind, fmt.Sprintf("%s is %d events behind", l.Projection, l.Events))
			default:
				parts = append(parts, fmt.Sprintf("%s %d", l.Projection, l.Events))
			}
		}
		if len(behind) > 0 {
			failed = append(failed, fmt.Sprintf("%s (more than %d; the bound is serve --ready-max-lag)", strings.Join(behind, ", "), maxLag))
		}
		if len(failed) > 0 {
			return "", errors.New(strings.Join(failed, "; "))
		}
		head := uint64(0)
		if len(lags) > 0 {
			head = lags[0].Head
		}
		return fmt.Sprintf("events behind: %s (stream at %d, bound %d)", strings.Join(parts, ", "), head, maxLag), nil
	}}
}
