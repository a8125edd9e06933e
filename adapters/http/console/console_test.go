package console_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/userlife/userlife/adapters/http/console"
)

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandlerServesPageAndAssets(t *testing.T) {
	t.Parallel()
	h := console.Handler()
	for _, tc := range []struct {
		path, ctype, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script type="module" src="/assets/app.js">`},
		{"/assets/app.js", "text/javascript; charset=utf-8", "import"},
		{"/assets/console.css", "text/css; charset=utf-8", ":root"},
		{"/assets/favicon.svg", "image/svg+xml", "<svg"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			res := get(t, h, http.MethodGet, tc.path, nil)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: status %d, want 200", tc.path, res.StatusCode)
			}
			if got := res.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.ctype)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("GET %s: X-Content-Type-Options %q, want nosniff", tc.path, got)
			}
			if !strings.Contains(string(body), tc.contains) {
				t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
			}
			etag := res.Header.Get("ETag")
			if etag == "" {
				t.Fatalf("GET %s: no ETag", tc.path)
			}
			again := get(t, h, http.MethodGet, tc.path, map[string]string{"If-None-Match": etag})
			if again.StatusCode != http.StatusNotModified {
				t.Errorf("GET %s with If-None-Match: status %d, want 304", tc.path, again.StatusCode)
			}
		})
	}
}

func TestHandlerRefuses(t *testing.T) {
	t.Parallel()
	h := console.Handler()
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/index.html", http.StatusNotFound},
		{http.MethodGet, "/assets/", http.StatusNotFound},
		{http.MethodGet, "/assets/missing.js", http.StatusNotFound},
		{http.MethodGet, "/v1/unknown", http.StatusNotFound},
		{http.MethodGet, "/assets/../index.html", http.StatusNotFound},
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/assets/app.js", http.StatusMethodNotAllowed},
	} {
		res := get(t, h, tc.method, tc.path, nil)
		if res.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, res.StatusCode, tc.status)
		}
	}
	if res := get(t, h, http.MethodPost, "/", nil); res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: Allow %q, want %q", res.Header.Get("Allow"), "GET, HEAD")
	}
}

// The CSP allows scripts and styles from the origin only: any inline
// script, style element, style attribute or inline event handler in the
// page or written by the scripts would be blocked in the browser.
func TestNoInlineScriptsOrStyles(t *testing.T) {
	t.Parallel()
	inline := []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`),          // a script with a body
		regexp.MustCompile(`<script(?:\s(?:[^s>]|s[^r]|sr[^c])*)?>`), // a script without src
		regexp.MustCompile(`<style[\s>]`),
		regexp.MustCompile(`\sstyle\s*=`),
		regexp.MustCompile(`\son[a-z]+\s*=\s*["']`),
		regexp.MustCompile(`javascript:`),
		regexp.MustCompile(`setAttribute\(\s*["'](?:style|on[a-z]+)["']`),
		regexp.MustCompile(`\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write`),
		regexp.MustCompile(`\beval\(|new Function\(`),
		regexp.MustCompile(`https?://`), // nothing from elsewhere (SVG namespaces excepted below)
	}
	err := fs.WalkDir(os.DirFS("."), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".html") || strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".css")) {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, re := range inline {
			if loc := re.FindIndex(b); loc != nil {
				t.Errorf("%s: %q matches %s: inline code or markup the CSP blocks, or an outside resource", p, b[loc[0]:loc[1]], re)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Every module the page imports is served: a typo in an import path
// would otherwise only show as a blank page.
func TestImportsResolve(t *testing.T) {
	t.Parallel()
	h := console.Handler()
	imp := regexp.MustCompile(`(?m)^import .* from "\./([a-z]+\.js)";$`)
	asset := regexp.MustCompile(`"/assets/([a-z.]+)"|url\("([a-z.]+)"\)`)
	entries, err := os.ReadDir("assets")
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := os.ReadFile("index.html")
	refs := map[string]string{}
	for _, m := range asset.FindAllStringSubmatch(string(idx), -1) {
		refs[m[1]] = "index.html"
	}
	for _, e := range entries {
		b, err := os.ReadFile("assets/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range imp.FindAllStringSubmatch(string(b), -1) {
			refs[m[1]] = e.Name()
		}
		for _, m := range asset.FindAllStringSubmatch(string(b), -1) {
			refs[m[1]+m[2]] = e.Name()
		}
	}
	if len(refs) < 8 {
		t.Fatalf("found %d references, want the page's modules, stylesheet and icons: %v", len(refs), refs)
	}
	for name, from := range refs {
		if res := get(t, h, http.MethodGet, "/assets/"+name, nil); res.StatusCode != http.StatusOK {
			t.Errorf("%s refers to /assets/%s: status %d", from, name, res.StatusCode)
		}
	}
}
