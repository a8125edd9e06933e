package http

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Verification defaults.
const (
	// DefaultLeeway is the clock skew allowed on exp and iat.
	DefaultLeeway = 30 * time.Second
	// DefaultJWKSRefresh is how often the JWKS is fetched again.
	DefaultJWKSRefresh = 5 * time.Minute
	// jwksUnknownKIDEvery bounds the refreshes a token with an unknown kid
	// can cause: random kids must not turn the gateway into a JWKS
	// hammer.
	jwksUnknownKIDEvery = 10 * time.Second
	jwksUnknownKIDWait  = 3 * time.Second
	// MinHS256Secret is the shortest HS256 secret accepted: RFC 7518 §3.2
	// asks for a key at least as long as the hash (256 bits).
	MinHS256Secret = 32
)

// The algorithms each kind of key may verify. A whitelist per key kind is
// what stops alg "none" and algorithm confusion (an HS256 token "signed"
// with the RSA public key of the JWKS).
var (
	hs256Methods = []string{jwt.SigningMethodHS256.Alg()}
	jwksMethods  = []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg()}
)

// Claims are the JWT claims userlife reads: sub, iat and exp from the
// registered ones, and the session id sid. `userlife token mint` writes
// them too.
type Claims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid,omitempty"`
}

var (
	errNoSubject  = errors.New("token has no sub claim")
	errNoIssuedAt = errors.New("token has no iat claim")
	// errControlChars: sub and sid are copied into the upstream request's
	// headers, where CR/LF would fail the request at the proxy (or, in a
	// laxer client, add headers).
	errControlChars = errors.New("token sub or sid claim has control characters")
)

// Validate requires what the revocation check needs; golang-jwt calls it
// after its own checks of exp and iat.
func (c Claims) Validate() error {
	var errs []error
	if c.Subject == "" {
		errs = append(errs, errNoSubject)
	}
	if c.IssuedAt == nil {
		errs = append(errs, errNoIssuedAt)
	}
	if strings.ContainsFunc(c.Subject, unicode.IsControl) || strings.ContainsFunc(c.SessionID, unicode.IsControl) {
		errs = append(errs, errControlChars)
	}
	return errors.Join(errs...)
}

var _ jwt.ClaimsValidator = Claims{}

// Token is what a verified JWT tells the gateway.
type Token struct {
	Subject   string
	SessionID string // "" when the token has no sid
	IssuedAt  int64  // unix seconds
	ExpiresAt int64  // unix seconds
}

// Verifier checks a compact JWT's signature and claims.
type Verifier interface {
	Verify(ctx context.Context, raw string) (Token, error)
}

// InvalidTokenError is a refused token; Description is short, fixed text
// fit for an RFC 6750 error_description (it never echoes the token).
type InvalidTokenError struct {
	Description string
	Err         error
}

func (e *InvalidTokenError) Error() string {
	return "invalid token: " + e.Description + ": " + e.Err.Error()
}
func (e *InvalidTokenError) Unwrap() error { return e.Err }

// VerifierConfig tunes a JWTVerifier. The zero value is usable.
type VerifierConfig struct {
	// Leeway is the clock skew allowed on exp and iat; zero means
	// DefaultLeeway (a negative value means none).
	Leeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// JWKS only: how often to fetch the set again (zero: DefaultJWKSRefresh),
	// the HTTP client (nil: a client with a 10 s timeout) and where to log
	// failed refreshes.
	RefreshInterval time.Duration
	HTTPClient      *http.Client
	Logger          *slog.Logger
}

// JWTVerifier verifies JWTs with golang-jwt against one kind of key.
type JWTVerifier struct {
	parser  *jwt.Parser
	methods []string
	key     func(ctx context.Context) jwt.Keyfunc
}

var _ Verifier = (*JWTVerifier)(nil)

// NewHS256Verifier accepts HS256 tokens signed with secret, and no other
// algorithm.
func NewHS256Verifier(secret []byte, cfg VerifierConfig) (*JWTVerifier, error) {
	if len(secret) < MinHS256Secret {
		return nil, fmt.Errorf("HS256 secret of %d bytes: want at least %d", len(secret), MinHS256Secret)
	}
	secret = slices.Clone(secret)
	kf := func(*jwt.Token) (any, error) { return secret, nil }
	return newVerifier(hs256Methods, func(context.Context) jwt.Keyfunc { return kf }, cfg), nil
}

// NewJWKSVerifier accepts RS256, ES256 and EdDSA tokens signed with a key
// of the JWK Set at url. It fetches the set before it returns (an
// unreachable or empty URL is an error), again every RefreshInterval, and
// when a token names a kid it does not know, at most once per 10 s (that
// request waits up to 3 s for the refetch; past the limit by more, the
// token is refused at once). The refreshes stop when ctx ends.
func NewJWKSVerifier(ctx context.Context, url string, cfg VerifierConfig) (*JWTVerifier, error) {
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = DefaultJWKSRefresh
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fail := false
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{url}, keyfunc.Override{
		Client:                    cfg.HTTPClient,
		NoErrorReturnFirstHTTPReq: &fail,
		RefreshInterval:           cfg.RefreshInterval,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(jwksUnknownKIDEvery), 1),
		// Bounds both the wait for the limiter and the refetch itself, for
		// the request that names an unknown kid: past the limit by more
		// than this, the token is refused at once.
		RateLimitWaitMax: jwksUnknownKIDWait,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(_ context.Context, err error) { log.Warn("JWKS refresh failed", "url", u, "err", err) }
		},
	})
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", url, err)
	}
	return newVerifier(jwksMethods, kf.KeyfuncCtx, cfg), nil
}

func newVerifier(methods []string, key func(context.Context) jwt.Keyfunc, cfg VerifierConfig) *JWTVerifier {
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), // iat in the future (beyond the leeway) is refused
		jwt.WithLeeway(cfg.Leeway),
	}
	if cfg.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(cfg.Now))
	}
	return &JWTVerifier{parser: jwt.NewParser(opts...), methods: methods, key: key}
}

// Verify returns the token's claims, or an *InvalidTokenError.
func (v *JWTVerifier) Verify(ctx context.Context, raw string) (Token, error) {
	var c Claims
	tok, err := v.parser.ParseWithClaims(raw, &c, v.key(ctx))
	if err != nil {
		return Token{}, &InvalidTokenError{Description: v.describe(tok, err), Err: err}
	}
	// exp is required (WithExpirationRequired), so ExpiresAt is set here.
	return Token{Subject: c.Subject, SessionID: c.SessionID, IssuedAt: c.IssuedAt.Unix(), ExpiresAt: c.ExpiresAt.Unix()}, nil
}

// describe picks one fixed description for err, the most basic problem
// first.
func (v *JWTVerifier) describe(tok *jwt.Token, err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case tok != nil && !slices.Contains(v.methods, headerAlg(tok)):
		return "signing algorithm not accepted"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "unknown signing key"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "invalid signature"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "token has no exp claim"
	case errors.Is(err, errNoSubject):
		return "token has no sub claim"
	case errors.Is(err, errNoIssuedAt):
		return "token has no iat claim"
	case errors.Is(err, errControlChars):
		return errControlChars.Error()
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token issued in the future"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token not valid yet"
	}
	return "invalid token"
}

func headerAlg(tok *jwt.Token) string {
	alg, _ := tok.Header["alg"].(string)
	return alg
}
