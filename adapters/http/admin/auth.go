package admin

import (
	"net/http"
	"strings"
)

// NoTokensDetail is the 401 detail when no admin token is configured;
// Config.NoTokensHint, when set, replaces its second sentence.
const noTokensDetail = "no admin tokens are configured, so the admin API refuses every request. "

const defaultNoTokensHint = "Configure tokens, one `<token> <actor> <role>` entry each (role admin or viewer)."

// guard authenticates the request for rt, then serves it.
func (h *Handler) guard(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.access == public {
			rt.serve(h, w, r, Principal{})
			return
		}
		p, sess, viaCookie, ok := h.authenticate(w, r)
		if !ok {
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && viaCookie && !sess.csrfValid(r.Header.Get(CSRFHeader)) {
			fail(w, CodeCSRFTokenInvalid, "a request signed in by the session cookie must carry the header "+CSRFHeader+
				" with the csrf_token from POST /v1/session (missing or wrong)")
			return
		}
		if rt.access == writer && p.Role != RoleAdmin {
			fail(w, CodeForbidden, "actor "+p.Actor+" has the role "+string(p.Role)+", which may only read; "+
				rt.Method+" "+rt.Path+" needs the role admin")
			return
		}
		rt.serve(h, w, r, p)
	})
}

// noTokens answers 401 with how to configure tokens.
func (h *Handler) noTokens(w http.ResponseWriter) {
	hint := h.cfg.NoTokensHint
	if hint == "" {
		hint = defaultNoTokensHint
	}
	fail(w, CodeUnauthorized, noTokensDetail+hint)
}

// authenticate finds the principal: a bearer token, else the session
// cookie. It answers 401 itself and returns ok false when there is none.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (p Principal, sess session, viaCookie, ok bool) {
	if h.tokens.empty() {
		h.noTokens(w)
		return p, sess, false, false
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		addr := clientAddr(r)
		if h.failures.blocked(addr) {
			tooMany(w)
			return p, sess, false, false
		}
		scheme, secret, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
			fail(w, CodeUnauthorized, "the Authorization header must be `Bearer <token>`")
			return p, sess, false, false
		}
		p, ok = h.tokens.lookup(strings.TrimSpace(secret))
		if !ok {
			h.failures.fail(addr)
			h.cfg.Logger.Warn("admin API: unknown bearer token", "remote", addr)
			fail(w, CodeUnauthorized, "the bearer token is not a configured admin token")
			return p, sess, false, false
		}
		return p, sess, false, true
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		sess, ok = h.sessions.get(c.Value)
		if !ok {
			fail(w, CodeUnauthorized, "the session has expired or was signed out; sign in again with POST /v1/session")
			return p, sess, true, false
		}
		return sess.principal, sess, true, true
	}
	fail(w, CodeUnauthorized, "credentials required: send `Authorization: Bearer <token>`, or sign in with POST /v1/session")
	return p, sess, false, false
}
