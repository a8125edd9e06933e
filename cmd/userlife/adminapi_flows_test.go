package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/userlife/userlife/adapters/http/admin"
	"github.com/userlife/userlife/events"
)

type session struct {
	Actor     string `json:"actor"`
	Role      string `json:"role"`
	CSRFToken string `json:"csrf_token"`
}

// signIn signs in with token and returns the session cookie and CSRF token.
func (a *api) signIn(token string) (*http.Cookie, string) {
	a.t.Helper()
	r := a.do(req{Method: "POST", Path: "/v1/session", Body: map[string]string{"token": token}})
	var s session
	r.decode(a.t, http.StatusOK, &s)
	for _, c := range r.res.Cookies() {
		if c.Name == admin.SessionCookie {
			return &http.Cookie{Name: c.Name, Value: c.Value}, s.CSRFToken
		}
	}
	a.t.Fatalf("no %s cookie in %v", admin.SessionCookie, r.Header.Values("Set-Cookie"))
	return nil, ""
}

type userPage struct {
	Users []struct {
		ID    string `json:"id"`
		Email string `json:"email"`
		State string `json:"state"`
	} `json:"users"`
	Next string `json:"next"`
}

func (p userPage) ids() []string {
	var ids []string
	for _, u := range p.Users {
		ids = append(ids, u.ID)
	}
	return ids
}

// Lists by state, a page at a time, and by email prefix, with the
// projections in PostgreSQL.
func TestAdminAPIListUsersPostgres(t *testing.T) {
	t.Parallel()
	a := startAPI(t, withPostgres(t))
	for i := range 5 {
		a.confirmed(fmt.Sprintf("c%d", i), fmt.Sprintf("c%d@corp.example", i))
	}
	a.outcome("POST", "/v1/users", map[string]string{"email": "p0@other.example", "user_id": "p0"})
	a.outcome("POST", "/v1/users/c4/disable", map[string]string{"reason": "test"})

	var pages [][]string
	for after := ""; ; {
		var p userPage
		a.do(req{Method: "GET", Path: "/v1/users?state=confirmed&limit=2&after=" + after, Token: viewerToken}).decode(t, http.StatusOK, &p)
		for _, u := range p.Users {
			if u.State != "confirmed" {
				t.Errorf("%s is %s in the confirmed list", u.ID, u.State)
			}
		}
		pages = append(pages, p.ids())
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if got, want := fmt.Sprint(pages), "[[c0 c1] [c2 c3]]"; got != want {
		t.Errorf("confirmed pages %s, want %s", got, want)
	}
	for query, want := range map[string]string{
		"state=pending":                  "[p0]",
		"state=disabled":                 "[c4]",
		"email=C1%40CORP":                "[c1]",
		"email=c&state=confirmed":        "[c0 c1 c2 c3]",
		"email=other":                    "[]",
		"email=%25":                      "[]", // % and _ are not wildcards
		"email=c_":                       "[]",
		"email=p0&state=pending&limit=1": "[p0]",
	} {
		var p userPage
		a.do(req{Method: "GET", Path: "/v1/users?" + query, Token: viewerToken}).decode(t, http.StatusOK, &p)
		if got := fmt.Sprint(p.ids()); got != want {
			t.Errorf("%s: %s, want %s", query, got, want)
		}
	}
	for _, q := range []string{"state=deleted", "limit=0", "limit=abc", "after=a.b"} {
		a.do(req{Method: "GET", Path: "/v1/users?" + q, Token: viewerToken}).wantProblem(t, http.StatusBadRequest, admin.CodeInvalidQuery)
	}
}

// A disable with a reason is recorded with the token's actor; the user
// shows its revocation; delete leaves the history and a deleted state.
func TestAdminAPIDisableRecordsActorAndReason(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	a.confirmed("ann", "ann@example.com")
	o := a.outcome("POST", "/v1/users/ann/disable", map[string]string{"reason": "chargeback fraud"})
	if o.Status != events.StatusAccepted || o.Command != events.CmdDisableUser || o.EventSeq == 0 || o.UserID != "ann" {
		t.Fatalf("outcome %+v", o)
	}
	h := a.historyOf("ann")
	last := h[len(h)-1]
	if last.Type != "UserDisabled" || last.Actor != "alice" || last.Reason != "chargeback fraud" || last.CommandID != o.CommandID {
		t.Errorf("last event %+v, want UserDisabled by alice for chargeback fraud", last)
	}
	var d admin.UserDetail
	a.do(req{Method: "GET", Path: "/v1/users/ann", Token: viewerToken}).decode(t, http.StatusOK, &d)
	if d.User.State != "disabled" || d.Revocation.RevokedBefore.IsZero() || d.User.Version != o.EventSeq {
		t.Errorf("user %+v", d)
	}
	if again := a.outcome("POST", "/v1/users/ann/disable", nil); again.Status != events.StatusUnchanged {
		t.Errorf("disable twice: %s, want unchanged", again.Status)
	}
	a.outcome("DELETE", "/v1/users/ann?reason=GDPR+request", nil)
	h = a.historyOf("ann")
	if last := h[len(h)-1]; last.Type != "UserDeleted" || last.Reason != "GDPR request" || last.Actor != "alice" {
		t.Errorf("last event %+v", last)
	}
	a.do(req{Method: "GET", Path: "/v1/users/ann", Token: viewerToken}).decode(t, http.StatusOK, &d)
	// The delete destroyed the user's data key: the email is erased.
	if d.User.State != "deleted" || d.User.Email != events.Erased || d.User.DeletedAt.IsZero() {
		t.Errorf("deleted user %+v", d.User)
	}
	a.do(req{Method: "POST", Path: "/v1/users/ann/enable", Token: adminToken}).wantProblem(t, http.StatusConflict, "user_deleted")
	var p userPage
	a.do(req{Method: "GET", Path: "/v1/users", Token: viewerToken}).decode(t, http.StatusOK, &p)
	if len(p.Users) != 0 {
		t.Errorf("deleted user listed: %v", p.ids())
	}
}

// The same Idempotency-Key twice appends one event and answers the same
// outcome; the key is the command id.
func TestAdminAPIIdempotencyKey(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	a.confirmed("ann", "ann@example.com")
	key := map[string]string{admin.IdempotencyKeyHeader: "revoke-ann-1"}
	var first, second events.Outcome
	a.do(req{Method: "POST", Path: "/v1/users/ann/revoke-sessions", Token: adminToken, Body: `{"reason":"laptop stolen"}`, Header: key}).
		decode(t, http.StatusOK, &first)
	a.do(req{Method: "POST", Path: "/v1/users/ann/revoke-sessions", Token: adminToken, Body: `{"reason":"laptop stolen"}`, Header: key}).
		decode(t, http.StatusOK, &second)
	if first != second || first.CommandID != "revoke-ann-1" || first.Status != events.StatusAccepted {
		t.Errorf("outcomes %+v and %+v", first, second)
	}
	n := 0
	for _, e := range a.historyOf("ann") {
		if e.Type == "SessionsRevoked" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d SessionsRevoked events, want 1", n)
	}
	a.do(req{Method: "POST", Path: "/v1/users/ann/disable", Token: adminToken, Header: key}).wantProblem(t, http.StatusConflict, "conflict")
	a.do(req{Method: "POST", Path: "/v1/users/ann/disable", Token: adminToken, Header: map[string]string{admin.IdempotencyKeyHeader: "bad key!"}}).
		wantProblem(t, http.StatusBadRequest, "invalid_command_id")
	var stored events.Outcome
	a.do(req{Method: "GET", Path: "/v1/commands/revoke-ann-1", Token: viewerToken}).decode(t, http.StatusOK, &stored)
	if stored != first {
		t.Errorf("stored outcome %+v, want %+v", stored, first)
	}
}

func TestAdminAPISessionSignInSignOut(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	r := a.do(req{Method: "POST", Path: "/v1/session", Body: map[string]string{"token": viewerToken}})
	var s session
	r.decode(t, http.StatusOK, &s)
	if s.Actor != "victor" || s.Role != "viewer" || len(s.CSRFToken) < 32 {
		t.Errorf("session %+v", s)
	}
	var c *http.Cookie
	for _, k := range r.res.Cookies() {
		if k.Name == admin.SessionCookie {
			c = k
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || c.MaxAge != int((12*time.Hour).Seconds()) {
		t.Fatalf("cookie %+v", c)
	}
	cookie := &http.Cookie{Name: c.Name, Value: c.Value}
	var again session
	a.do(req{Method: "GET", Path: "/v1/session", Cookie: cookie}).decode(t, http.StatusOK, &again)
	if again != s {
		t.Errorf("GET /v1/session %+v, want %+v", again, s)
	}
	a.do(req{Method: "GET", Path: "/v1/users", Cookie: cookie}).decode(t, http.StatusOK, &userPage{})
	a.do(req{Method: "POST", Path: "/v1/users", Cookie: cookie, Body: `{"email":"x@example.com"}`,
		Header: map[string]string{admin.CSRFHeader: s.CSRFToken}}).wantProblem(t, http.StatusForbidden, admin.CodeForbidden)
	r = a.do(req{Method: "DELETE", Path: "/v1/session", Cookie: cookie, Header: map[string]string{admin.CSRFHeader: s.CSRFToken}})
	if r.Status != http.StatusNoContent {
		t.Fatalf("sign out: %d %s", r.Status, r.Body)
	}
	for _, k := range r.res.Cookies() {
		if k.Name == admin.SessionCookie && k.MaxAge >= 0 {
			t.Errorf("sign-out cookie %+v does not expire", k)
		}
	}
	a.do(req{Method: "GET", Path: "/v1/session", Cookie: cookie}).wantProblem(t, http.StatusUnauthorized, admin.CodeUnauthorized)
	a.do(req{Method: "GET", Path: "/v1/users", Cookie: cookie}).wantProblem(t, http.StatusUnauthorized, admin.CodeUnauthorized)
	a.do(req{Method: "GET", Path: "/v1/session"}).wantProblem(t, http.StatusUnauthorized, admin.CodeUnauthorized)
}

// Every response of the listener carries the security headers; /v1 is
// never cached.
func TestAdminAPISecurityHeaders(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	for _, r := range []req{
		{Method: "GET", Path: "/healthz"},
		{Method: "GET", Path: "/readyz"},
		{Method: "GET", Path: "/v1/users", Token: adminToken},
		{Method: "GET", Path: "/v1/users"},
		{Method: "GET", Path: "/"},
		{Method: "POST", Path: "/v1/introspect"},
	} {
		got := a.do(r)
		for k, want := range map[string]string{
			"Content-Security-Policy": admin.ContentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
		} {
			if v := got.Header.Get(k); v != want {
				t.Errorf("%s %s: %s %q, want %q", r.Method, r.Path, k, v, want)
			}
		}
		if len(r.Path) > 3 && r.Path[:4] == "/v1/" && got.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: Cache-Control %q", r.Method, r.Path, got.Header.Get("Cache-Control"))
		}
	}
	var ready map[string]string
	a.do(req{Method: "GET", Path: "/readyz"}).decode(t, http.StatusOK, &ready)
	if ready["status"] != "ready" {
		t.Errorf("readyz %v", ready)
	}
	if r := a.do(req{Method: "GET", Path: "/metrics"}); r.Status != http.StatusNotFound {
		t.Errorf("/metrics without a handler: %d", r.Status)
	}
}
