package http_test

import (
	"strings"
	"testing"

	httpadapter "github.com/userlife/userlife/adapters/http"
	"github.com/userlife/userlife/projections/revocation"
)

// Claims are copied into headers for the upstream. A validly signed token
// whose sub or sid carries CR/LF is refused as an invalid token; it never
// reaches the upstream.
func TestGatewayClaimsWithCRLF(t *testing.T) {
	t.Parallel()
	for name, mut := range map[string]func(*httpadapter.Claims){
		"sub": func(c *httpadapter.Claims) { c.Subject = "ann\r\nX-Admin: yes" },
		"sid": func(c *httpadapter.Claims) { c.SessionID = "s-1\r\nX-Admin: yes" },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			up, hits := upstream(t)
			gw := newGateway(t, gatewayOpts{enforcer: &fakeEnforcer{reason: revocation.Allowed}, upstream: up})
			res := do(t, "GET", gw.URL+"/api", bearerHdr(hs256(t, mutate(mut))))
			if res.code != 401 || *hits != 0 || !strings.Contains(string(res.body), "control characters") {
				t.Fatalf("status %d, upstream hit %d times, body %s; want 401 invalid_token before the upstream", res.code, *hits, res.body)
			}
		})
	}
}
