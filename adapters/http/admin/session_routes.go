package admin

import (
	"net/http"
	"time"
)

// sessionInfo is the body of the session routes.
type sessionInfo struct {
	Actor     string `json:"actor"`
	Role      Role   `json:"role"`
	CSRFToken string `json:"csrf_token"`
	ExpiresAt string `json:"expires_at"`
}

func info(s session) sessionInfo {
	return sessionInfo{Actor: s.principal.Actor, Role: s.principal.Role, CSRFToken: s.csrf, ExpiresAt: s.expires.UTC().Format(time.RFC3339)}
}

// signIn exchanges an admin token for a session cookie.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request, _ Principal) {
	if h.tokens.empty() {
		h.noTokens(w)
		return
	}
	addr := clientAddr(r)
	if h.failures.blocked(addr) {
		tooMany(w)
		return
	}
	var body struct {
		Token string `json:"token"`
	}
	if !readBody(w, r, &body, true) {
		return
	}
	if body.Token == "" {
		fail(w, CodeUnauthorized, "sign in with {\"token\": \"<admin token>\"}")
		return
	}
	p, ok := h.tokens.lookup(body.Token)
	if !ok {
		h.failures.fail(addr)
		h.cfg.Logger.Warn("admin API: sign-in with an unknown token", "remote", addr)
		fail(w, CodeUnauthorized, "that is not a configured admin token")
		return
	}
	id, sess := h.sessions.create(p)
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, Expires: sess.expires, MaxAge: int(h.cfg.SessionTTL.Seconds()),
	})
	h.cfg.Logger.Info("console sign-in", "actor", p.Actor, "role", string(p.Role))
	writeJSON(w, http.StatusOK, info(sess))
}

// currentSession returns the signed-in session (page reloads).
func (h *Handler) currentSession(w http.ResponseWriter, r *http.Request, _ Principal) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		fail(w, CodeUnauthorized, "not signed in: this route answers for the session cookie of POST /v1/session")
		return
	}
	sess, ok := h.sessions.get(c.Value)
	if !ok {
		fail(w, CodeUnauthorized, "the session has expired or was signed out; sign in again with POST /v1/session")
		return
	}
	writeJSON(w, http.StatusOK, info(sess))
}

// signOut ends the session and clears the cookie.
func (h *Handler) signOut(w http.ResponseWriter, r *http.Request, p Principal) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		fail(w, CodeUnauthorized, "not signed in: this route answers for the session cookie of POST /v1/session")
		return
	}
	h.sessions.remove(c.Value)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: -1})
	h.cfg.Logger.Info("console sign-out", "actor", p.Actor)
	w.WriteHeader(http.StatusNoContent)
}
