package http_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	httpadapter "github.com/userlife/userlife/adapters/http"
)

// now is the tests' fixed clock.
var now = time.Date(2026, 11, 28, 17, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return now }

var secret = []byte("0123456789abcdef0123456789abcdef-test-secret")

// claims are valid ones for user ann, session s-1, issued a minute ago.
func claims() *httpadapter.Claims {
	return &httpadapter.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   "ann",
			IssuedAt:  jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute)),
		},
		SessionID: "s-1",
	}
}

func sign(t testing.TB, m jwt.SigningMethod, c jwt.Claims, key any, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", m.Alg(), err)
	}
	return s
}

func hs256(t testing.TB, c jwt.Claims) string {
	t.Helper()
	return sign(t, jwt.SigningMethodHS256, c, secret, nil)
}

// none is an unsigned token (alg "none").
func none(t testing.TB, c jwt.Claims) string {
	t.Helper()
	return sign(t, jwt.SigningMethodNone, c, jwt.UnsafeAllowNoneSignatureType, nil)
}

func hsVerifier(t testing.TB) *httpadapter.JWTVerifier {
	t.Helper()
	v, err := httpadapter.NewHS256Verifier(secret, httpadapter.VerifierConfig{Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newEd25519(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// mutate returns claims() changed by f.
func mutate(f func(c *httpadapter.Claims)) *httpadapter.Claims {
	c := claims()
	f(c)
	return c
}
