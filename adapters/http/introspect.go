package http

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"mime"
	"net/http"

	"github.com/userlife/userlife/projections/revocation"
)

// IntrospectPath is where the service answers token introspection.
const IntrospectPath = "/v1/introspect"

// maxIntrospectBody bounds a request's form; a JWT is a few KiB at most.
const maxIntrospectBody = 64 << 10

// IntrospectorConfig is what an Introspector needs.
type IntrospectorConfig struct {
	Verifier Verifier
	// Enforcer should fail closed (a revocation.Checker without FailOpen):
	// RFC 7662 has no "unknown", so a stale view answers 503, never
	// "active".
	Enforcer Enforcer
	// CallerTokens are the bearer tokens allowed to call the endpoint
	// (RFC 7662 §2.1 requires it to be protected).
	CallerTokens []string
	Logger       *slog.Logger
}

// Validate reports every problem at once.
func (c IntrospectorConfig) Validate() error {
	var errs []error
	if c.Verifier == nil {
		errs = append(errs, errors.New("introspection: Verifier is required"))
	}
	if c.Enforcer == nil {
		errs = append(errs, errors.New("introspection: Enforcer is required"))
	}
	if len(c.CallerTokens) == 0 {
		errs = append(errs, errors.New("introspection: at least one caller token is required"))
	}
	for _, t := range c.CallerTokens {
		if t == "" {
			errs = append(errs, errors.New("introspection: a caller token is empty"))
			break
		}
	}
	return errors.Join(errs...)
}

// Introspector answers RFC 7662 token introspection: a POSTed form with
// token=<JWT> gets {"active":true,...} when the token verifies and the
// revocation view lets it pass, {"active":false} otherwise.
type Introspector struct {
	verifier Verifier
	enforcer Enforcer
	callers  [][sha256.Size]byte
	log      *slog.Logger
}

var _ http.Handler = (*Introspector)(nil)

// NewIntrospector returns an Introspector for cfg.
func NewIntrospector(cfg IntrospectorConfig) (*Introspector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	in := &Introspector{verifier: cfg.Verifier, enforcer: cfg.Enforcer, log: log}
	for _, t := range cfg.CallerTokens {
		in.callers = append(in.callers, sha256.Sum256([]byte(t)))
	}
	return in, nil
}

// Introspection is the answer for a token: only Active when it is not.
type Introspection struct {
	Active    bool   `json:"active"`
	Subject   string `json:"sub,omitempty"`
	SessionID string `json:"sid,omitempty"`
	IssuedAt  int64  `json:"iat,omitempty"`
	ExpiresAt int64  `json:"exp,omitempty"`
	TokenType string `json:"token_type,omitempty"`
}

// ServeHTTP checks the method, the caller and the form, then introspects.
func (in *Introspector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "method_not_allowed", Description: "use POST"})
		return
	}
	caller, status := bearer(r.Header.Values("Authorization"))
	switch {
	case status == noToken:
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+Realm+`"`)
		writeJSON(w, http.StatusUnauthorized, errorBody{Error: "unauthorized", Description: "bearer token required"})
		return
	case status == malformed:
		refuse(w, "malformed Authorization header")
		return
	case !in.knownCaller(caller):
		refuse(w, "caller token not accepted")
		return
	}
	raw, ok := in.tokenParam(w, r)
	if !ok {
		return
	}
	code, body := in.introspect(r, raw)
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, code, body)
}

// knownCaller compares the hashes of caller and every accepted token in
// constant time: no early exit, and equal lengths, so neither the position
// of a match nor a token's length shows in the timing.
func (in *Introspector) knownCaller(caller string) bool {
	h := sha256.Sum256([]byte(caller))
	found := 0
	for i := range in.callers {
		found |= subtle.ConstantTimeCompare(h[:], in.callers[i][:])
	}
	return found == 1
}

// tokenParam reads the token from the form body (never the query string,
// where it would end up in access logs), or answers 400.
func (in *Introspector) tokenParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	bad := func(desc string) (string, bool) {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "invalid_request", Description: desc})
		return "", false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return bad("want Content-Type application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxIntrospectBody)
	if err := r.ParseForm(); err != nil {
		return bad("unreadable form")
	}
	// token_type_hint is optional and only a hint (RFC 7662 §2.1): there
	// is one kind of token here, so it is ignored.
	switch v := r.PostForm["token"]; {
	case len(v) == 0 || v[0] == "":
		return bad("token is required")
	case len(v) > 1:
		return bad("token given more than once")
	default:
		return v[0], true
	}
}

// introspect verifies raw and asks the view. A token that is not valid is
// just inactive (RFC 7662 §2.2 says no more about it); a view that cannot
// tell is 503, since "active" would fail open and "inactive" would
// wrongly log users out.
func (in *Introspector) introspect(r *http.Request, raw string) (int, any) {
	tok, err := in.verifier.Verify(r.Context(), raw)
	if err != nil {
		in.log.Debug("introspection: token not valid", "err", err)
		return http.StatusOK, Introspection{}
	}
	switch reason := in.enforcer.Check(tok.Subject, tok.SessionID, tok.IssuedAt); reason {
	case revocation.Allowed:
		return http.StatusOK, Introspection{
			Active: true, Subject: tok.Subject, SessionID: tok.SessionID,
			IssuedAt: tok.IssuedAt, ExpiresAt: tok.ExpiresAt, TokenType: "Bearer",
		}
	case revocation.ReasonStale, revocation.ReasonNotReady:
		in.log.Debug("introspection: failing closed", "user_id", tok.Subject, "reason", reason.String())
		return http.StatusServiceUnavailable, errorBody{Error: "temporarily_unavailable", Description: reason.String()}
	default:
		in.log.Debug("introspection: token revoked", "user_id", tok.Subject, "reason", reason.String())
		return http.StatusOK, Introspection{}
	}
}
