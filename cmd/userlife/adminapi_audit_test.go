package main

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/userlife/userlife/adapters/http/admin"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// TestAdminAPIAudit: GET /v1/audit filters like `userlife audit` in each
// format, and GET /v1/users/{id}?at= answers the state at a past time.
func TestAdminAPIAudit(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	a.confirmed("ann", "ann@example.com")
	a.outcome("POST", "/v1/users/ann/disable", map[string]string{"reason": "chargeback fraud"})
	mid := time.Now().UTC()
	a.confirmed("bob", "bob@example.com")
	a.outcome("POST", "/v1/users/ann/enable", nil)
	a.outcome("POST", "/v1/users/bob/delete", map[string]string{"reason": "GDPR request #12"})

	audit := func(query string) []projections.AuditEvent {
		t.Helper()
		var page struct {
			Events []projections.AuditEvent `json:"events"`
		}
		r := a.do(req{Method: "GET", Path: "/v1/audit?" + query, Token: viewerToken})
		if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Fatalf("Content-Type %q", ct)
		}
		r.decode(t, http.StatusOK, &page)
		return page.Events
	}
	seqs := func(rows []projections.AuditEvent) []uint64 {
		var out []uint64
		for _, r := range rows {
			out = append(out, r.Seq)
		}
		return out
	}
	all := audit("")
	if len(all) != 7 || all[2].Reason != "chargeback fraud" || all[0].Actor != "alice" {
		t.Fatalf("GET /v1/audit: %+v", all)
	}
	for _, tt := range []struct {
		query string
		q     projections.AuditQuery
	}{
		{"user=ann", projections.AuditQuery{UserID: "ann"}},
		{"type=UserDeleted&type=UserDisabled", projections.AuditQuery{Types: []events.Type{events.TypeUserDeleted, events.TypeUserDisabled}}},
		{"type=UserConfirmed,UserEnabled&actor=alice", projections.AuditQuery{Types: []events.Type{events.TypeUserConfirmed, events.TypeUserEnabled}, Actor: "alice"}},
		{"since=" + url.QueryEscape(mid.Format(time.RFC3339Nano)), projections.AuditQuery{Since: mid}},
		{"until=" + url.QueryEscape(mid.Format(time.RFC3339Nano)) + "&user=bob", projections.AuditQuery{Until: mid, UserID: "bob"}},
	} {
		var want []uint64
		for _, r := range all {
			if tt.q.Match(r) {
				want = append(want, r.Seq)
			}
		}
		if got := seqs(audit(tt.query)); !slices.Equal(got, want) {
			t.Errorf("GET /v1/audit?%s = %v, want %v", tt.query, got, want)
		}
	}

	r := a.do(req{Method: "GET", Path: "/v1/audit?format=ndjson&user=bob", Token: viewerToken})
	lines := strings.Split(strings.TrimSpace(string(r.Body)), "\n")
	var last projections.AuditEvent
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || len(lines) != 3 || last.Type != events.TypeUserDeleted ||
		r.Header.Get("Content-Type") != "application/x-ndjson; charset=utf-8" {
		t.Errorf("ndjson: %v %q\n%s", err, r.Header.Get("Content-Type"), r.Body)
	}
	r = a.do(req{Method: "GET", Path: "/v1/audit?format=csv&type=UserDisabled", Token: viewerToken})
	recs, err := csv.NewReader(strings.NewReader(string(r.Body))).ReadAll()
	if err != nil || len(recs) != 2 || recs[0][0] != "seq" || recs[1][5] != "chargeback fraud" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
		t.Errorf("csv: %v %q", err, recs)
	}
	if rows := audit("user=nobody"); rows == nil || len(rows) != 0 {
		t.Errorf("no match: %v, want an empty list", rows)
	}
	for _, bad := range []string{"format=xml", "since=yesterday", "user=a.b", "type=User%20Deleted", "colour=red",
		"since=2026-05-02T00:00:00Z&until=2026-05-01T00:00:00Z"} {
		a.do(req{Method: "GET", Path: "/v1/audit?" + bad, Token: viewerToken}).wantProblem(t, http.StatusBadRequest, admin.CodeInvalidQuery)
	}
	a.do(req{Method: "GET", Path: "/v1/audit"}).wantProblem(t, http.StatusUnauthorized, admin.CodeUnauthorized)

	var at admin.UserAt
	a.do(req{Method: "GET", Path: "/v1/users/ann?at=" + url.QueryEscape(mid.Format(time.RFC3339Nano)), Token: viewerToken}).decode(t, http.StatusOK, &at)
	if at.User.State != projections.StateDisabled || len(at.History) != 3 || !at.At.Equal(mid) || at.Revocation.RevokedBefore.IsZero() ||
		at.User.Email != "ann@example.com" || string(at.History[0].Data) != `{"email":"ann@example.com"}` {
		t.Errorf("ann at mid: %+v", at)
	}
	var now admin.UserAt
	a.do(req{Method: "GET", Path: "/v1/users/bob?at=" + url.QueryEscape(time.Now().UTC().Format(time.RFC3339Nano)), Token: viewerToken}).decode(t, http.StatusOK, &now)
	if now.User.State != projections.StateDeleted || now.User.Email != events.Erased || now.History[0].Type != events.TypeUserRegistered ||
		string(now.History[0].Data) != `{"email":"[erased]"}` {
		t.Errorf("bob now (deleted: its data key is gone): %+v", now)
	}
	p := a.do(req{Method: "GET", Path: "/v1/users/bob?at=" + url.QueryEscape(mid.Format(time.RFC3339Nano)), Token: viewerToken}).
		wantProblem(t, http.StatusNotFound, events.CodeUnknownUser)
	if !strings.Contains(p.Detail, "did not exist at") {
		t.Errorf("bob before registration: %q", p.Detail)
	}
	a.do(req{Method: "GET", Path: "/v1/users/ann?at=yesterday", Token: viewerToken}).wantProblem(t, http.StatusBadRequest, admin.CodeInvalidQuery)
	if s := a.state("ann"); s != projections.StateConfirmed {
		t.Errorf("without at: %s", s)
	}
}
