package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// checkQuery refuses query parameters the route does not know.
func checkQuery(w http.ResponseWriter, q url.Values, known ...string) bool {
	for k := range q {
		if !slices.Contains(known, k) {
			detail := fmt.Sprintf("unknown query parameter %q", k)
			if len(known) > 0 {
				detail += fmt.Sprintf("; known: %v", known)
			}
			fail(w, CodeInvalidQuery, detail)
			return false
		}
	}
	return true
}

// userID reads and checks the {id} path parameter.
func userID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !events.ValidID(id) {
		fail(w, events.CodeInvalidUserID, fmt.Sprintf("invalid user id %q: want [A-Za-z0-9_-]{1,64}", id))
		return "", false
	}
	return id, true
}

// queryFailed answers a read-side error.
func (h *Handler) queryFailed(w http.ResponseWriter, what string, err error) {
	h.cfg.Logger.Error("admin API query failed", "query", what, "error", err)
	fail(w, CodeUnavailable, what+": the read side did not answer: "+err.Error())
}

// listUsers: GET /v1/users?state=&email=&after=&limit=
func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, _ Principal) {
	v := r.URL.Query()
	if !checkQuery(w, v, "state", "email", "after", "limit") {
		return
	}
	q := projections.ListQuery{State: v.Get("state"), EmailPrefix: v.Get("email"), After: v.Get("after")}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			fail(w, CodeInvalidQuery, fmt.Sprintf("limit %q: want a whole number from 1 to 1000", s))
			return
		}
		q.Limit = n
	}
	if q.After != "" && !events.ValidID(q.After) {
		fail(w, CodeInvalidQuery, fmt.Sprintf("after %q is not a cursor from a previous page", q.After))
		return
	}
	q, err := q.Normalize()
	if err != nil {
		fail(w, CodeInvalidQuery, err.Error())
		return
	}
	page, err := h.cfg.Queries.ListUsers(r.Context(), q)
	if err != nil {
		h.queryFailed(w, "list users", err)
		return
	}
	if page.Users == nil {
		page.Users = []projections.User{}
	}
	writeJSON(w, http.StatusOK, page)
}

// Revocation is what the revocation view holds for a user: tokens issued
// before RevokedBefore and the sessions in RevokedSessions are refused.
type Revocation struct {
	RevokedBefore   time.Time `json:"revoked_before,omitzero"`
	RevokedSessions []string  `json:"revoked_sessions"`
}

// UserDetail is the answer of GET /v1/users/{id}.
type UserDetail struct {
	User       projections.User `json:"user"`
	Revocation Revocation       `json:"revocation"`
}

// getUser: GET /v1/users/{id}. A deleted user has no row; its state is
// then told from its history.
func (h *Handler) getUser(w http.ResponseWriter, r *http.Request, _ Principal) {
	id, ok := userID(w, r)
	if !ok || !checkQuery(w, r.URL.Query(), "at") {
		return
	}
	if r.URL.Query().Has("at") {
		h.userAt(w, r, id)
		return
	}
	u, err := h.cfg.Queries.GetUser(r.Context(), id)
	if err != nil && !errors.Is(err, projections.ErrNotFound) {
		h.queryFailed(w, "get user", err)
		return
	}
	hist, herr := h.cfg.Queries.History(r.Context(), id)
	if herr != nil && !errors.Is(herr, projections.ErrNotFound) {
		h.queryFailed(w, "user history", herr)
		return
	}
	if errors.Is(err, projections.ErrNotFound) {
		deleted, ok := deletedUser(id, hist)
		if !ok {
			fail(w, events.CodeUnknownUser, fmt.Sprintf("no user %q", id))
			return
		}
		u = deleted
	}
	rev := Revocation{RevokedBefore: u.RevokedBefore, RevokedSessions: []string{}}
	for _, e := range hist {
		if e.Type != events.TypeSessionRevoked {
			continue
		}
		var d events.SessionRevoked
		if json.Unmarshal(e.Data, &d) == nil && d.SessionID != "" && !slices.Contains(rev.RevokedSessions, d.SessionID) {
			rev.RevokedSessions = append(rev.RevokedSessions, d.SessionID)
		}
	}
	writeJSON(w, http.StatusOK, UserDetail{User: u, Revocation: rev})
}

// userAt answers GET /v1/users/{id}?at=… through Config.StateAt.
func (h *Handler) userAt(w http.ResponseWriter, r *http.Request, id string) {
	raw := r.URL.Query().Get("at")
	at, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		fail(w, CodeInvalidQuery, fmt.Sprintf("at %q: want an RFC 3339 time such as 2026-11-28T18:04:07Z", raw))
		return
	}
	if h.cfg.StateAt == nil {
		fail(w, CodeInvalidQuery, "this server does not answer ?at= (a user's state at a past time)")
		return
	}
	v, err := h.cfg.StateAt(r.Context(), id, at)
	if errors.Is(err, projections.ErrNotFound) {
		fail(w, events.CodeUnknownUser, err.Error())
		return
	}
	if err != nil {
		h.queryFailed(w, "user state at "+raw, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// deletedUser describes a user whose history ends with UserDeleted.
func deletedUser(id string, hist []projections.AuditEvent) (projections.User, bool) {
	del := slices.IndexFunc(hist, func(e projections.AuditEvent) bool { return e.Type == events.TypeUserDeleted })
	if del < 0 {
		return projections.User{}, false
	}
	// Receipts (UserDataPurged) may follow the delete: the version is the
	// last event's.
	last := hist[len(hist)-1]
	u := projections.User{ID: id, State: "deleted", DeletedAt: hist[del].OccurredAt, Version: last.Seq, UpdatedAt: last.OccurredAt}
	for _, e := range hist[:del] {
		switch e.Type {
		case events.TypeUserRegistered:
			var d events.UserRegistered
			_ = json.Unmarshal(e.Data, &d)
			u.Email, u.RegisteredAt = d.Email, e.OccurredAt
		case events.TypeUserConfirmed:
			u.ConfirmedAt = e.OccurredAt
		case events.TypeUserDisabled:
			u.DisabledAt = e.OccurredAt
		}
	}
	var d events.UserDeleted
	if json.Unmarshal(hist[del].Data, &d) == nil {
		u.RevokedBefore = d.RevokedBefore
	}
	return u, true
}

// history: GET /v1/users/{id}/history
func (h *Handler) history(w http.ResponseWriter, r *http.Request, _ Principal) {
	id, ok := userID(w, r)
	if !ok || !checkQuery(w, r.URL.Query()) {
		return
	}
	hist, err := h.cfg.Queries.History(r.Context(), id)
	if err != nil && !errors.Is(err, projections.ErrNotFound) {
		h.queryFailed(w, "user history", err)
		return
	}
	if len(hist) == 0 {
		fail(w, events.CodeUnknownUser, fmt.Sprintf("no user %q", id))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": hist})
}

// commandOutcome: GET /v1/commands/{command_id}
func (h *Handler) commandOutcome(w http.ResponseWriter, r *http.Request, _ Principal) {
	id := r.PathValue("command_id")
	if !events.ValidID(id) {
		fail(w, events.CodeInvalidCommandID, fmt.Sprintf("invalid command id %q: want [A-Za-z0-9_-]{1,64}", id))
		return
	}
	if !checkQuery(w, r.URL.Query()) {
		return
	}
	o, err := h.cfg.Outcomes.Outcome(r.Context(), id)
	if errors.Is(err, ErrNoOutcome) {
		fail(w, CodeNotFound, fmt.Sprintf("no outcome for command %q (unknown, not handled yet, or older than the results' retention)", id))
		return
	}
	if err != nil {
		h.queryFailed(w, "command outcome", err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}
