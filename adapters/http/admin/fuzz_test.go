package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzReadBody: any body and content type either decodes into the body
// struct or is answered with a problem of status 400, 413 or 415.
func FuzzReadBody(f *testing.F) {
	for _, seed := range []struct{ body, ct string }{
		{`{"reason":"x"}`, "application/json"},
		{`{"reason":"x"}`, "application/json; charset=utf-8"},
		{`{"reason":"x"}`, "text/plain"},
		{`{"reason":`, "application/json"},
		{`{"reason":"x","actor":"m"}`, "application/json"},
		{`{"reason":1}`, "application/json"},
		{`[]`, "application/json"},
		{`null`, "application/json"},
		{"", ""},
		{"  ", "application/json"},
		{`{"reason":"x"} {}`, "application/json"},
		{"{\"reason\":\"\xff\"}", "application/json"},
		{strings.Repeat(" ", MaxBodyBytes+1), "application/json"},
	} {
		f.Add(seed.body, seed.ct, false)
		f.Add(seed.body, seed.ct, true)
	}
	f.Fuzz(func(t *testing.T, body, ct string, required bool) {
		r := httptest.NewRequest("POST", "/v1/users/ann/disable", strings.NewReader(body))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		w := httptest.NewRecorder()
		var dst reasonBody
		if readBody(w, r, &dst, required) {
			if w.Body.Len() != 0 {
				t.Fatalf("accepted, yet answered %d %s", w.Code, w.Body)
			}
			if strings.Trim(body, jsonSpace) != "" {
				var check map[string]json.RawMessage
				if err := json.Unmarshal([]byte(body), &check); err != nil {
					t.Fatalf("accepted %q, which is not a JSON object: %v", body, err)
				}
			}
			return
		}
		switch w.Code {
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		default:
			t.Fatalf("refused with status %d", w.Code)
		}
		var p Problem
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != w.Code || StatusOf(p.Code) != w.Code || p.Detail == "" {
			t.Fatalf("problem %s: %v", w.Body, err)
		}
		if w.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("Content-Type %q", w.Header().Get("Content-Type"))
		}
	})
}

// FuzzParseTokens: ParseTokens never panics, and what it accepts is
// usable: long enough, a known role, no spaces, no duplicates.
func FuzzParseTokens(f *testing.F) {
	f.Add("alice-token-0123456789 alice admin\n# c\n\nvictor-token-0123456789 victor viewer")
	f.Add("a;b;c")
	f.Add("short x admin")
	f.Fuzz(func(t *testing.T, text string) {
		tokens, err := ParseTokens(text, "fuzz")
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, tk := range tokens {
			if len(tk.Secret) < MinTokenLength || strings.ContainsAny(tk.Secret, " \t\n;") || seen[tk.Secret] ||
				(tk.Role != RoleAdmin && tk.Role != RoleViewer) || tk.Actor == "" {
				t.Fatalf("accepted %+v from %q", tk, text)
			}
			seen[tk.Secret] = true
		}
	})
}
