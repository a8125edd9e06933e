package http_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	httpadapter "github.com/userlife/userlife/adapters/http"
	"github.com/userlife/userlife/projections/revocation"
)

const callerToken = "caller-token-0123456789"

func newIntrospector(t *testing.T, reason revocation.Reason) *httptest.Server {
	t.Helper()
	in, err := httpadapter.NewIntrospector(httpadapter.IntrospectorConfig{
		Verifier: hsVerifier(t), Enforcer: &fakeEnforcer{reason: reason},
		CallerTokens: []string{"another-caller-token-xyz", callerToken},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	return srv
}

func TestIntrospect(t *testing.T) {
	t.Parallel()
	good := hs256(t, claims())
	form := func(token string) string {
		return url.Values{"token": {token}, "token_type_hint": {"access_token"}}.Encode()
	}
	const formType = "application/x-www-form-urlencoded"
	const inactive = `{"active":false}`
	iat, exp := now.Add(-time.Minute).Unix(), now.Add(10*time.Minute).Unix()
	active := `{"active":true,"sub":"ann","sid":"s-1","iat":` + itoa(iat) + `,"exp":` + itoa(exp) + `,"token_type":"Bearer"}`
	tests := []struct {
		name        string
		method      string
		caller      string // the Authorization header; "" for none
		contentType string
		body        string
		reason      revocation.Reason
		code        int
		want        string // the body, or a part of it for errors
		wwwAuth     string // the WWW-Authenticate header's start
	}{
		{"active", "POST", "Bearer " + callerToken, formType, form(good), revocation.Allowed, 200, active, ""},
		{"active without sid", "POST", "Bearer " + callerToken, formType,
			form(hs256(t, mutate(func(c *httpadapter.Claims) { c.SessionID = "" }))), revocation.Allowed, 200,
			`{"active":true,"sub":"ann","iat":` + itoa(iat) + `,"exp":` + itoa(exp) + `,"token_type":"Bearer"}`, ""},
		{"other caller token", "POST", "Bearer another-caller-token-xyz", formType, form(good), revocation.Allowed, 200, active, ""},
		{"charset in content type", "POST", "Bearer " + callerToken, formType + "; charset=utf-8", form(good), revocation.Allowed, 200, active, ""},
		{"expired", "POST", "Bearer " + callerToken, formType,
			form(hs256(t, mutate(func(c *httpadapter.Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour)) }))),
			revocation.Allowed, 200, inactive, ""},
		{"bad signature", "POST", "Bearer " + callerToken, formType,
			form(sign(t, jwt.SigningMethodHS256, claims(), []byte("another-secret-another-secret-0123456789"), nil)),
			revocation.Allowed, 200, inactive, ""},
		{"alg none", "POST", "Bearer " + callerToken, formType, form(none(t, claims())), revocation.Allowed, 200, inactive, ""},
		{"not a JWT", "POST", "Bearer " + callerToken, formType, form("opaque"), revocation.Allowed, 200, inactive, ""},
		{"disabled", "POST", "Bearer " + callerToken, formType, form(good), revocation.ReasonDisabled, 200, inactive, ""},
		{"deleted", "POST", "Bearer " + callerToken, formType, form(good), revocation.ReasonDeleted, 200, inactive, ""},
		{"revoked before", "POST", "Bearer " + callerToken, formType, form(good), revocation.ReasonRevoked, 200, inactive, ""},
		{"session revoked", "POST", "Bearer " + callerToken, formType, form(good), revocation.ReasonSessionRevoked, 200, inactive, ""},
		{"stale", "POST", "Bearer " + callerToken, formType, form(good), revocation.ReasonStale, 503, `"temporarily_unavailable"`, ""},
		{"not ready", "POST", "Bearer " + callerToken, formType, form(good), revocation.ReasonNotReady, 503, `"temporarily_unavailable"`, ""},
		{"stale but invalid", "POST", "Bearer " + callerToken, formType, form(none(t, claims())), revocation.ReasonStale, 200, inactive, ""},
		{"missing caller token", "POST", "", formType, form(good), revocation.Allowed, 401, `"unauthorized"`, `Bearer realm="userlife"`},
		{"other scheme", "POST", "Basic YTpi", formType, form(good), revocation.Allowed, 401, `"unauthorized"`, `Bearer realm="userlife"`},
		{"wrong caller token", "POST", "Bearer " + callerToken + "x", formType, form(good), revocation.Allowed, 401, `"invalid_token"`, `Bearer realm="userlife", error="invalid_token"`},
		{"the token as caller", "POST", "Bearer " + good, formType, form(good), revocation.Allowed, 401, `"invalid_token"`, `Bearer realm="userlife", error="invalid_token"`},
		{"GET", "GET", "Bearer " + callerToken, "", "", revocation.Allowed, 405, `"method_not_allowed"`, ""},
		{"missing token", "POST", "Bearer " + callerToken, formType, "token_type_hint=access_token", revocation.Allowed, 400, `"invalid_request"`, ""},
		{"empty token", "POST", "Bearer " + callerToken, formType, "token=", revocation.Allowed, 400, `"invalid_request"`, ""},
		{"token twice", "POST", "Bearer " + callerToken, formType, form(good) + "&token=x", revocation.Allowed, 400, `"invalid_request"`, ""},
		{"JSON body", "POST", "Bearer " + callerToken, "application/json", `{"token":"` + good + `"}`, revocation.Allowed, 400, `"invalid_request"`, ""},
		{"too big", "POST", "Bearer " + callerToken, formType, "token=" + strings.Repeat("a", 70<<10), revocation.Allowed, 400, `"invalid_request"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newIntrospector(t, tt.reason)
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+httpadapter.IntrospectPath, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.caller != "" {
				req.Header.Set("Authorization", tt.caller)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			body := strings.TrimSpace(string(b))
			if res.StatusCode != tt.code {
				t.Errorf("status = %d, want %d (body %s)", res.StatusCode, tt.code, body)
			}
			if tt.code == 200 && body != tt.want || !strings.Contains(body, tt.want) {
				t.Errorf("body = %s, want %s", body, tt.want)
			}
			if got, want := res.Header.Get("Content-Type"), "application/json"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			if got, want := res.Header.Get("Cache-Control"), "no-store"; got != want {
				t.Errorf("Cache-Control = %q, want %q", got, want)
			}
			if got := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, tt.wwwAuth) || (tt.wwwAuth == "") != (got == "") {
				t.Errorf("WWW-Authenticate = %q, want it to start with %q", got, tt.wwwAuth)
			}
			if got, want := res.Header.Get("Retry-After"), map[bool]string{true: "1"}[tt.code == 503]; got != want {
				t.Errorf("Retry-After = %q, want %q", got, want)
			}
			if tt.code == 405 && res.Header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", res.Header.Get("Allow"))
			}
			if tt.code == 200 && !json.Valid(b) {
				t.Errorf("body %s is not JSON", body)
			}
		})
	}
}

// The enforcer is asked about the verified claims, and only about them.
func TestIntrospectAsksTheView(t *testing.T) {
	t.Parallel()
	e := &fakeEnforcer{reason: revocation.Allowed}
	in, err := httpadapter.NewIntrospector(httpadapter.IntrospectorConfig{Verifier: hsVerifier(t), Enforcer: e, CallerTokens: []string{callerToken}})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", httpadapter.IntrospectPath, strings.NewReader("token="+hs256(t, claims())))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+callerToken)
	rec := httptest.NewRecorder()
	in.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("status = %d, want 200: %s", rec.Code, rec.Body)
	}
	if got, want := strings.Join(e.asked, ","), "ann/s-1/2026-11-28T16:59:00Z"; got != want {
		t.Errorf("asked %q, want %q", got, want)
	}
}

func TestIntrospectorConfigValidate(t *testing.T) {
	t.Parallel()
	err := httpadapter.IntrospectorConfig{CallerTokens: []string{""}}.Validate()
	for _, want := range []string{"Verifier", "Enforcer", "empty"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
	if err := (httpadapter.IntrospectorConfig{}).Validate(); err == nil || !strings.Contains(err.Error(), "at least one caller token") {
		t.Errorf("Validate() = %v, want it to ask for a caller token", err)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
