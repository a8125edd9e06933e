package admin

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// auditFormats are the answers GET /v1/audit gives, by ?format=.
var auditFormats = map[string]string{
	"json":   "application/json; charset=utf-8",
	"ndjson": "application/x-ndjson; charset=utf-8",
	"csv":    "text/csv; charset=utf-8",
}

// auditCSVHeader is the first record of a CSV answer (as `userlife audit
// --format csv` writes it).
var auditCSVHeader = []string{"seq", "occurred_at", "type", "user_id", "actor", "reason", "command_id", "correlation_id", "event_id", "data"}

// audit: GET /v1/audit?user=&type=&actor=&since=&until=&format=json|ndjson|csv
// streams the matching events from the event log itself. An error after
// the first row aborts the response, so a cut answer never reads as a
// whole one.
func (h *Handler) audit(w http.ResponseWriter, r *http.Request, _ Principal) {
	if h.cfg.Audit == nil {
		fail(w, CodeNotFound, "this server does not serve audits from the event log")
		return
	}
	v := r.URL.Query()
	if !checkQuery(w, v, "user", "type", "actor", "since", "until", "format") {
		return
	}
	q := projections.AuditQuery{UserID: v.Get("user"), Actor: v.Get("actor")}
	for _, t := range v["type"] {
		for s := range strings.SplitSeq(t, ",") {
			if s = strings.TrimSpace(s); s != "" {
				q.Types = append(q.Types, events.Type(s))
			}
		}
	}
	var errs error
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if s := v.Get(f.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				errs = errors.Join(errs, fmt.Errorf("%s %q: want an RFC 3339 time such as 2026-05-01T12:00:00Z", f.name, s))
			}
			*f.dst = t
		}
	}
	format := v.Get("format")
	if format == "" {
		format = "json"
	}
	ctype, ok := auditFormats[format]
	if !ok {
		errs = errors.Join(errs, fmt.Errorf("format %q: want json, ndjson or csv", format))
	}
	if errs == nil {
		errs = q.Validate()
	}
	if errs != nil {
		fail(w, CodeInvalidQuery, strings.ReplaceAll(errs.Error(), "\n", "; "))
		return
	}

	bw := bufio.NewWriterSize(w, 32<<10)
	cw := csv.NewWriter(bw)
	rows := 0
	start := func() {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Trailer", "Userlife-Skipped")
		w.WriteHeader(http.StatusOK)
		switch format {
		case "json":
			bw.WriteString(`{"events":[`)
		case "csv":
			_ = cw.Write(auditCSVHeader)
		}
	}
	err := h.cfg.Audit.Audit(r.Context(), q, func(e projections.AuditEvent) error {
		if rows == 0 {
			start()
		}
		rows++
		switch format {
		case "csv":
			return cw.Write([]string{strconv.FormatUint(e.Seq, 10), e.OccurredAt.Format(time.RFC3339Nano), string(e.Type), e.UserID,
				e.Actor, e.Reason, e.CommandID, e.CorrelationID, e.EventID, string(e.Data)})
		case "json":
			if rows > 1 {
				bw.WriteByte(',')
			}
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		bw.Write(b)
		if format == "ndjson" {
			return bw.WriteByte('\n')
		}
		return nil
	})
	if err != nil && !errors.Is(err, projections.ErrUndecodable) {
		if rows == 0 {
			h.queryFailed(w, "audit", err)
			return
		}
		h.cfg.Logger.Error("audit cut short", "error", err, "rows", rows)
		panic(http.ErrAbortHandler) // the client sees a broken response, not a short one
	}
	if rows == 0 {
		start()
	}
	if format == "json" {
		bw.WriteString(`]`)
		if err != nil {
			fmt.Fprintf(bw, `,"skipped":%q`, err.Error())
		}
		bw.WriteString("}\n")
	}
	cw.Flush()
	_ = bw.Flush()
	if err != nil {
		w.Header().Set("Userlife-Skipped", err.Error())
	}
}

// UserAt is the answer of GET /v1/users/{id}?at= that `serve` gives
// (through Config.StateAt): the user as it was then, its revocation then,
// and its history up to then.
type UserAt struct {
	At         time.Time                `json:"at"`
	User       projections.User         `json:"user"`
	Revocation Revocation               `json:"revocation"`
	History    []projections.AuditEvent `json:"history"`
	Failures   []string                 `json:"failures,omitempty"`
}

// NewUserAt describes a past state for the API: the revocation is the
// state's revoked_before and the sessions revoked one by one up to then.
func NewUserAt(u projections.UserAt) UserAt {
	rev := Revocation{RevokedBefore: u.User.RevokedBefore, RevokedSessions: []string{}}
	for _, e := range u.History {
		var d events.SessionRevoked
		if e.Type == events.TypeSessionRevoked && json.Unmarshal(e.Data, &d) == nil && d.SessionID != "" && !slices.Contains(rev.RevokedSessions, d.SessionID) {
			rev.RevokedSessions = append(rev.RevokedSessions, d.SessionID)
		}
	}
	return UserAt{At: u.At, User: u.User, Revocation: rev, History: u.History, Failures: u.Failures}
}
