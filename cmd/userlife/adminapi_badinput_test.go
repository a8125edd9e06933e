package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/userlife/userlife/adapters/http/admin"
	"github.com/userlife/userlife/events"
)

// Each bad input below gets its problem, and the user's history shows
// that nothing was appended.

func TestAdminAPIInvalidJSON(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	a.confirmed("ann", "ann@example.com")
	for _, body := range []string{`{"reason":`, `{"reason":"x"} trailing`, `["reason"]`, "{\"reason\":\"\xff\"}"} {
		p := a.do(req{Method: "POST", Path: "/v1/users/ann/disable", Token: adminToken, Body: body}).
			wantProblem(t, http.StatusBadRequest, admin.CodeInvalidJSON)
		if p.Detail == "" {
			t.Errorf("%q: no detail", body)
		}
	}
	a.do(req{Method: "POST", Path: "/v1/users", Token: adminToken, Body: `{"email": "bob@example.com",`}).
		wantProblem(t, http.StatusBadRequest, admin.CodeInvalidJSON)
	if got := len(a.historyOf("ann")); got != 2 {
		t.Errorf("ann has %d events, want 2 (register, confirm)", got)
	}
	a.do(req{Method: "GET", Path: "/v1/users/bob", Token: adminToken}).wantProblem(t, http.StatusNotFound, "unknown_user")
}

func TestAdminAPIUnknownField(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	a.confirmed("ann", "ann@example.com")
	// The actor comes from the token, never from the body.
	p := a.do(req{Method: "POST", Path: "/v1/users/ann/disable", Token: adminToken, Body: `{"reason":"x","actor":"mallory"}`}).
		wantProblem(t, http.StatusBadRequest, admin.CodeUnknownField)
	if !strings.Contains(p.Detail, `"actor"`) {
		t.Errorf("detail %q does not name the field", p.Detail)
	}
	a.do(req{Method: "POST", Path: "/v1/users/ann/disable", Token: adminToken, Body: `{"reason":42}`}).
		wantProblem(t, http.StatusBadRequest, "invalid_field")
	a.do(req{Method: "GET", Path: "/v1/users?sate=confirmed", Token: adminToken}).wantProblem(t, http.StatusBadRequest, admin.CodeInvalidQuery)
	a.do(req{Method: "GET", Path: "/v1/users/ann?at=yesterday", Token: adminToken}).wantProblem(t, http.StatusBadRequest, admin.CodeInvalidQuery)
	// serve folds the event log for ?at=: before its registration, ann did not exist.
	p = a.do(req{Method: "GET", Path: "/v1/users/ann?at=2026-01-01T00:00:00Z", Token: adminToken}).wantProblem(t, http.StatusNotFound, events.CodeUnknownUser)
	if !strings.Contains(p.Detail, "did not exist at") {
		t.Errorf("detail %q", p.Detail)
	}
	if got := a.state("ann"); got != "confirmed" {
		t.Errorf("ann is %s, want confirmed", got)
	}
}

func TestAdminAPIMissingOrInvalidCredentials(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	a.confirmed("ann", "ann@example.com")
	for name, r := range map[string]req{
		"no credentials":     {Method: "GET", Path: "/v1/users"},
		"unknown token":      {Method: "GET", Path: "/v1/users", Token: "not-a-configured-token-0123"},
		"basic auth":         {Method: "GET", Path: "/v1/users", Header: map[string]string{"Authorization": "Basic YWxpY2U6c2VjcmV0"}},
		"empty bearer":       {Method: "GET", Path: "/v1/users", Header: map[string]string{"Authorization": "Bearer "}},
		"unknown session":    {Method: "GET", Path: "/v1/users", Cookie: &http.Cookie{Name: admin.SessionCookie, Value: "forged"}},
		"mutation, no creds": {Method: "POST", Path: "/v1/users/ann/disable", Body: `{"reason":"x"}`},
		"wrong sign-in":      {Method: "POST", Path: "/v1/session", Body: `{"token":"not-a-configured-token-0123"}`},
	} {
		r := a.do(r)
		r.wantProblem(t, http.StatusUnauthorized, admin.CodeUnauthorized)
		if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="userlife"` {
			t.Errorf("%s: WWW-Authenticate %q", name, got)
		}
	}
	if got := a.state("ann"); got != "confirmed" {
		t.Errorf("ann is %s, want confirmed", got)
	}
}

// Without admin tokens /v1 refuses everything and says how to configure
// them; the OpenAPI document and /healthz stay open.
func TestAdminAPIWithoutTokensRefusesAndSaysHow(t *testing.T) {
	t.Parallel()
	a := startAPI(t, withTokens(nil))
	for _, r := range []req{
		{Method: "GET", Path: "/v1/users"},
		{Method: "POST", Path: "/v1/users", Token: adminToken, Body: `{"email":"ann@example.com"}`},
		{Method: "POST", Path: "/v1/session", Body: `{"token":"` + adminToken + `"}`},
	} {
		p := a.do(r).wantProblem(t, http.StatusUnauthorized, admin.CodeUnauthorized)
		if !strings.Contains(p.Detail, "--admin-tokens-file") || !strings.Contains(p.Detail, "USERLIFE_ADMIN_TOKENS") {
			t.Errorf("%s %s: detail %q does not say how to configure tokens", r.Method, r.Path, p.Detail)
		}
	}
	for _, path := range []string{"/v1/openapi.json", "/healthz"} {
		if r := a.do(req{Method: "GET", Path: path}); r.Status != http.StatusOK {
			t.Errorf("GET %s: %d", path, r.Status)
		}
	}
}

func TestAdminAPIViewerCannotMutate(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	a.confirmed("ann", "ann@example.com")
	for _, r := range []req{
		{Method: "POST", Path: "/v1/users/ann/disable", Body: `{"reason":"x"}`},
		{Method: "DELETE", Path: "/v1/users/ann"},
		{Method: "POST", Path: "/v1/users", Body: `{"email":"bob@example.com"}`},
	} {
		r.Token = viewerToken
		p := a.do(r).wantProblem(t, http.StatusForbidden, admin.CodeForbidden)
		if !strings.Contains(p.Detail, "viewer") {
			t.Errorf("detail %q does not name the role", p.Detail)
		}
	}
	if got := len(a.historyOf("ann")); got != 2 {
		t.Errorf("ann has %d events, want 2", got)
	}
	var page struct{ Users []struct{ ID string } }
	a.do(req{Method: "GET", Path: "/v1/users", Token: viewerToken}).decode(t, http.StatusOK, &page)
	if len(page.Users) != 1 {
		t.Errorf("viewer lists %d users, want 1", len(page.Users))
	}
}

func TestAdminAPIUnknownUser(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	for _, path := range []string{"/v1/users/nobody", "/v1/users/nobody/history"} {
		a.do(req{Method: "GET", Path: path, Token: adminToken}).wantProblem(t, http.StatusNotFound, "unknown_user")
	}
	p := a.do(req{Method: "POST", Path: "/v1/users/nobody/disable", Token: adminToken, Body: `{"reason":"x"}`}).
		wantProblem(t, http.StatusNotFound, "unknown_user")
	if p.CommandID == "" {
		t.Error("a rejected command's problem has no command_id")
	}
	a.do(req{Method: "GET", Path: "/v1/commands/" + p.CommandID, Token: viewerToken}).decode(t, http.StatusOK, &struct{}{})
	a.do(req{Method: "GET", Path: "/v1/commands/never-sent", Token: viewerToken}).wantProblem(t, http.StatusNotFound, admin.CodeNotFound)
	a.do(req{Method: "GET", Path: "/v1/users/bad.id", Token: adminToken}).wantProblem(t, http.StatusBadRequest, "invalid_user_id")
	a.do(req{Method: "GET", Path: "/v1/nothing-here", Token: adminToken}).wantProblem(t, http.StatusNotFound, admin.CodeNotFound)
	r := a.do(req{Method: "PUT", Path: "/v1/users/nobody", Token: adminToken})
	r.wantProblem(t, http.StatusMethodNotAllowed, admin.CodeMethodNotAllowed)
	if got := r.Header.Get("Allow"); got != "GET, DELETE" {
		t.Errorf("Allow %q", got)
	}
}

func TestAdminAPIForbiddenTransition(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	a.outcome("POST", "/v1/users", map[string]string{"email": "pat@example.com", "user_id": "pat"})
	p := a.do(req{Method: "POST", Path: "/v1/users/pat/disable", Token: adminToken, Body: `{"reason":"fraud"}`}).
		wantProblem(t, http.StatusConflict, "forbidden_transition")
	if !strings.Contains(p.Detail, "a pending user cannot be disabled, only deleted") {
		t.Errorf("detail %q does not state the rule", p.Detail)
	}
	if p.CommandID == "" {
		t.Error("no command_id")
	}
	if got := a.state("pat"); got != "pending" {
		t.Errorf("pat is %s, want pending", got)
	}
	a.do(req{Method: "POST", Path: "/v1/users", Token: adminToken, Body: `{"email":"PAT@example.com"}`}).
		wantProblem(t, http.StatusConflict, "email_taken")
}

func TestAdminAPIBodyTooLarge(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	a.confirmed("ann", "ann@example.com")
	big := `{"reason":"` + strings.Repeat("x", admin.MaxBodyBytes) + `"}`
	a.do(req{Method: "POST", Path: "/v1/users/ann/disable", Token: adminToken, Body: big}).
		wantProblem(t, http.StatusRequestEntityTooLarge, "payload_too_large")
	// Without a Content-Length (chunked), the limit holds while reading.
	chunked := io.MultiReader(strings.NewReader(big))
	a.do(req{Method: "POST", Path: "/v1/users/ann/disable", Token: adminToken, Body: chunked}).
		wantProblem(t, http.StatusRequestEntityTooLarge, "payload_too_large")
	if got := a.state("ann"); got != "confirmed" {
		t.Errorf("ann is %s, want confirmed", got)
	}
}

func TestAdminAPIWrongContentType(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	a.confirmed("ann", "ann@example.com")
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1"} {
		a.do(req{Method: "POST", Path: "/v1/users/ann/disable", Token: adminToken, Body: `{"reason":"x"}`, ContentType: ct}).
			wantProblem(t, http.StatusUnsupportedMediaType, admin.CodeUnsupportedMediaType)
	}
	if got := a.state("ann"); got != "confirmed" {
		t.Errorf("ann is %s, want confirmed", got)
	}
}

func TestAdminAPICSRFTokenMissing(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	a.confirmed("ann", "ann@example.com")
	cookie, csrf := a.signIn(adminToken)
	for name, hdr := range map[string]map[string]string{
		"missing": nil,
		"wrong":   {admin.CSRFHeader: "not-the-token"},
	} {
		p := a.do(req{Method: "POST", Path: "/v1/users/ann/disable", Body: `{"reason":"x"}`, Cookie: cookie, Header: hdr}).
			wantProblem(t, http.StatusForbidden, admin.CodeCSRFTokenInvalid)
		if !strings.Contains(p.Detail, admin.CSRFHeader) {
			t.Errorf("%s: detail %q does not name the header", name, p.Detail)
		}
	}
	a.do(req{Method: "DELETE", Path: "/v1/session", Cookie: cookie}).wantProblem(t, http.StatusForbidden, admin.CodeCSRFTokenInvalid)
	if got := a.state("ann"); got != "confirmed" {
		t.Errorf("ann is %s, want confirmed", got)
	}
	var o struct{ Status string }
	a.do(req{Method: "POST", Path: "/v1/users/ann/disable", Body: `{"reason":"x"}`, Cookie: cookie,
		Header: map[string]string{admin.CSRFHeader: csrf}}).decode(t, http.StatusOK, &o)
	if o.Status != "accepted" {
		t.Errorf("with the CSRF header: %s", o.Status)
	}
}

// Guessing tokens is throttled per address: after a burst of failures the
// API answers 429 with Retry-After, and the problem is documented.
func TestAdminAPIFailedAuthThrottled(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	_, router := openAPIDoc(t, a)
	for i := 0; ; i++ {
		r := a.do(req{Method: "POST", Path: "/v1/session", Body: `{"token":"guess-0123456789abcdef"}`})
		if r.Status == http.StatusTooManyRequests {
			r.wantProblem(t, http.StatusTooManyRequests, admin.CodeTooManyRequests)
			if r.Header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			checkAgainstDoc(t, router, "POST", "/v1/session", r)
			break
		}
		r.wantProblem(t, http.StatusUnauthorized, admin.CodeUnauthorized)
		if i > 1000 {
			t.Fatal("never throttled")
		}
	}
	for i := 0; ; i++ {
		r := a.do(req{Method: "GET", Path: "/v1/users", Token: "guess-0123456789abcdef"})
		if r.Status == http.StatusTooManyRequests {
			checkAgainstDoc(t, router, "GET", "/v1/users", r)
			break
		}
		if i > 1000 {
			t.Fatal("bearer guesses never throttled")
		}
	}
}
