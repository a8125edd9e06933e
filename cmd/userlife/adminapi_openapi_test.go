package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/userlife/userlife/adapters/http/admin"
)

// openAPIDoc loads and validates the served document.
func openAPIDoc(t *testing.T, a *api) (*openapi3.T, routers.Router) {
	t.Helper()
	r := a.do(req{Method: "GET", Path: "/v1/openapi.json"})
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /v1/openapi.json: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(r.Body)
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

// checkAgainstDoc validates an answer (status, headers, body) against the
// operation the document has for the request.
func checkAgainstDoc(t *testing.T, router routers.Router, method, path string, r reply) {
	t.Helper()
	hr, _ := http.NewRequest(method, "http://userlife"+path, nil)
	route, params, err := router.FindRoute(hr)
	if err != nil {
		t.Errorf("%s %s: not in the document: %v", method, path, err)
		return
	}
	err = openapi3filter.ValidateResponse(t.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: hr, PathParams: params, Route: route},
		Status:                 r.Status,
		Header:                 r.Header,
		Body:                   io.NopCloser(bytes.NewReader(r.Body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	})
	if err != nil {
		t.Errorf("%s %s answered %d, which the document does not describe: %v\nbody %s", method, path, r.Status, err, r.Body)
	}
}

// Every documented operation is served (walked against the real server,
// each answering 2xx as the document says), and every served route is
// documented.
func TestAdminAPIOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	doc, router := openAPIDoc(t, a)

	var documented, served []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	for _, rt := range admin.Routes() {
		served = append(served, rt.Method+" "+rt.Path)
	}
	slices.Sort(documented)
	slices.Sort(served)
	for _, op := range documented {
		if !slices.Contains(served, op) {
			t.Errorf("documented but not served: %s", op)
		}
	}
	for _, op := range served {
		if !slices.Contains(documented, op) {
			t.Errorf("served but not documented: %s", op)
		}
	}

	// Walk the document: each operation on a user of its own.
	a.confirmed("seed", "seed@example.com")
	seedCmd := a.outcome("POST", "/v1/users/seed/revoke-sessions", nil).CommandID
	for i, op := range documented {
		method, path, _ := strings.Cut(op, " ")
		id := fmt.Sprintf("walk%d", i)
		if strings.Contains(path, "{id}") {
			if strings.HasSuffix(path, "/confirm") {
				a.outcome("POST", "/v1/users", map[string]string{"email": id + "@example.com", "user_id": id})
			} else {
				a.confirmed(id, id+"@example.com")
			}
		}
		if strings.HasSuffix(path, "/erasure") {
			// A receipt exists for a deleted user only.
			a.outcome("POST", "/v1/users/"+id+"/delete", map[string]string{"reason": "OpenAPI walk"})
		}
		concrete := strings.NewReplacer("{id}", id, "{command_id}", seedCmd).Replace(path)
		rq := req{Method: method, Path: concrete, Token: adminToken}
		switch {
		case path == "/v1/session" && method == "POST":
			rq.Token, rq.Body = "", map[string]string{"token": adminToken}
		case path == "/v1/session":
			cookie, csrf := a.signIn(adminToken)
			rq.Token, rq.Cookie, rq.Header = "", cookie, map[string]string{admin.CSRFHeader: csrf}
		case path == "/v1/users" && method == "POST":
			rq.Body = map[string]string{"email": id + "@example.com", "user_id": id}
		case method == "POST":
			rq.Body = map[string]string{"reason": "OpenAPI walk"}
		}
		r := a.do(rq)
		if r.Status < 200 || r.Status > 299 {
			t.Errorf("%s %s: %d %s", method, concrete, r.Status, r.Body)
		}
		checkAgainstDoc(t, router, method, concrete, r)
	}

	// Problems are documented too.
	a.outcome("POST", "/v1/users", map[string]string{"email": "pending@example.com", "user_id": "pending"})
	for _, rq := range []req{
		{Method: "GET", Path: "/v1/users"},
		{Method: "GET", Path: "/v1/users/nobody", Token: adminToken},
		{Method: "GET", Path: "/v1/users?limit=x", Token: adminToken},
		{Method: "POST", Path: "/v1/users/pending/disable", Token: adminToken},
		{Method: "POST", Path: "/v1/users/pending/disable", Token: viewerToken},
		{Method: "POST", Path: "/v1/users/pending/disable", Token: adminToken, Body: `{"reason":"x"}`, ContentType: "text/plain"},
		{Method: "POST", Path: "/v1/users/pending/disable", Token: adminToken, Body: strings.Repeat(" ", admin.MaxBodyBytes+1)},
		{Method: "POST", Path: "/v1/users", Token: adminToken, Body: `{"email":1}`},
		{Method: "GET", Path: "/v1/commands/unknown", Token: adminToken},
		{Method: "GET", Path: "/v1/users/pending/erasure", Token: adminToken},
		{Method: "GET", Path: "/v1/users/nobody/erasure", Token: adminToken},
	} {
		r := a.do(rq)
		if r.Status < 400 {
			t.Errorf("%s %s: %d", rq.Method, rq.Path, r.Status)
		}
		checkAgainstDoc(t, router, rq.Method, rq.Path, r)
	}
}
