package http_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	httpadapter "github.com/userlife/userlife/adapters/http"
)

func TestHS256Verifier(t *testing.T) {
	t.Parallel()
	v := hsVerifier(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey := newEd25519(t)
	tests := []struct {
		name  string
		token string
		want  string // error description; "" accepts
	}{
		{"valid", hs256(t, claims()), ""},
		{"no sid", hs256(t, mutate(func(c *httpadapter.Claims) { c.SessionID = "" })), ""},
		{"alg none", none(t, claims()), "signing algorithm not accepted"},
		{"RS256 to an HS256 verifier", sign(t, jwt.SigningMethodRS256, claims(), rsaKey, nil), "signing algorithm not accepted"},
		{"EdDSA to an HS256 verifier", sign(t, jwt.SigningMethodEdDSA, claims(), edKey, nil), "signing algorithm not accepted"},
		{"HS512 with the secret", sign(t, jwt.SigningMethodHS512, claims(), secret, nil), "signing algorithm not accepted"},
		{"other secret", sign(t, jwt.SigningMethodHS256, claims(), []byte("another-secret-another-secret-another"), nil), "invalid signature"},
		{"malformed", "not.a.jwt", "malformed token"},
		{"garbage", "abc", "malformed token"},
		{"expired", hs256(t, mutate(func(c *httpadapter.Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute)) })), "token expired"},
		{"expired within leeway", hs256(t, mutate(func(c *httpadapter.Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-20 * time.Second)) })), ""},
		{"no exp", hs256(t, mutate(func(c *httpadapter.Claims) { c.ExpiresAt = nil })), "token has no exp claim"},
		{"iat in the future", hs256(t, mutate(func(c *httpadapter.Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(time.Minute)) })), "token issued in the future"},
		{"iat in the future within leeway", hs256(t, mutate(func(c *httpadapter.Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(20 * time.Second)) })), ""},
		{"no iat", hs256(t, mutate(func(c *httpadapter.Claims) { c.IssuedAt = nil })), "token has no iat claim"},
		{"no sub", hs256(t, mutate(func(c *httpadapter.Claims) { c.Subject = "" })), "token has no sub claim"},
		{"nbf in the future", hs256(t, mutate(func(c *httpadapter.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Hour)) })), "token not valid yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := v.Verify(context.Background(), tt.token)
			checkVerify(t, got, err, tt.want)
		})
	}
}

func checkVerify(t *testing.T, got httpadapter.Token, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("Verify: %v, want the token accepted", err)
		}
		if got.Subject != "ann" || got.IssuedAt == 0 {
			t.Errorf("got %+v, want sub ann and iat set", got)
		}
		return
	}
	ite, ok := errors.AsType[*httpadapter.InvalidTokenError](err)
	if !ok {
		t.Fatalf("Verify: got %+v, %v; want an InvalidTokenError %q", got, err, want)
	}
	if ite.Description != want {
		t.Errorf("description %q (%v), want %q", ite.Description, err, want)
	}
}

func TestHS256VerifierClaims(t *testing.T) {
	t.Parallel()
	got, err := hsVerifier(t).Verify(context.Background(), hs256(t, claims()))
	if err != nil {
		t.Fatal(err)
	}
	want := httpadapter.Token{Subject: "ann", SessionID: "s-1", IssuedAt: now.Add(-time.Minute).Unix(), ExpiresAt: now.Add(10 * time.Minute).Unix()}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestHS256VerifierShortSecret(t *testing.T) {
	t.Parallel()
	if _, err := httpadapter.NewHS256Verifier([]byte("short"), httpadapter.VerifierConfig{}); err == nil {
		t.Error("a 5-byte secret was accepted")
	}
}

// jwksServer serves a JWK Set that a test can extend (key rotation) and
// counts the fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	store   *jwkset.MemoryJWKSet
	fetches atomic.Int64
}

func newJWKSServer(t *testing.T) *jwksServer {
	t.Helper()
	s := &jwksServer{store: jwkset.NewMemoryStorage()}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		b, err := s.store.JSONPublic(r.Context())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) add(t *testing.T, kid string, alg jwkset.ALG, key any) {
	t.Helper()
	jwk, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: alg, USE: jwkset.UseSig}})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.KeyWrite(context.Background(), jwk); err != nil {
		t.Fatal(err)
	}
}

func TestJWKSVerifier(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edKey := newEd25519(t)
	srv := newJWKSServer(t)
	srv.add(t, "rsa-1", jwkset.AlgRS256, rsaKey.Public())
	srv.add(t, "ec-1", jwkset.AlgES256, ecKey.Public())
	srv.add(t, "ed-1", jwkset.AlgEdDSA, edPub)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := httpadapter.NewJWKSVerifier(ctx, srv.URL, httpadapter.VerifierConfig{Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}

	// Algorithm confusion: the attacker knows the RSA public key and uses
	// its encodings as an HMAC secret.
	der, err := x509.MarshalPKIXPublicKey(rsaKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	kid := func(k string) map[string]any { return map[string]any{"kid": k} }
	otherRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		want  string
	}{
		{"RS256", sign(t, jwt.SigningMethodRS256, claims(), rsaKey, kid("rsa-1")), ""},
		{"ES256", sign(t, jwt.SigningMethodES256, claims(), ecKey, kid("ec-1")), ""},
		{"EdDSA", sign(t, jwt.SigningMethodEdDSA, claims(), edKey, kid("ed-1")), ""},
		{"RS256 without kid", sign(t, jwt.SigningMethodRS256, claims(), rsaKey, nil), ""},
		{"HS256 with the RSA key's PEM", sign(t, jwt.SigningMethodHS256, claims(), pemKey, kid("rsa-1")), "signing algorithm not accepted"},
		{"HS256 with the RSA key's DER", sign(t, jwt.SigningMethodHS256, claims(), der, kid("rsa-1")), "signing algorithm not accepted"},
		{"HS256 without kid", sign(t, jwt.SigningMethodHS256, claims(), pemKey, nil), "signing algorithm not accepted"},
		{"alg none", sign(t, jwt.SigningMethodNone, claims(), jwt.UnsafeAllowNoneSignatureType, kid("rsa-1")), "signing algorithm not accepted"},
		{"RS384", sign(t, jwt.SigningMethodRS384, claims(), rsaKey, kid("rsa-1")), "signing algorithm not accepted"},
		{"PS256", sign(t, jwt.SigningMethodPS256, claims(), rsaKey, kid("rsa-1")), "signing algorithm not accepted"},
		{"RS256 by another key", sign(t, jwt.SigningMethodRS256, claims(), otherRSA, kid("rsa-1")), "invalid signature"},
		{"RS256 naming the EC key", sign(t, jwt.SigningMethodRS256, claims(), rsaKey, kid("ec-1")), "unknown signing key"},
		{"ES256 naming the RSA key", sign(t, jwt.SigningMethodES256, claims(), ecKey, kid("rsa-1")), "unknown signing key"},
		{"expired RS256", sign(t, jwt.SigningMethodRS256, mutate(func(c *httpadapter.Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour)) }), rsaKey, kid("rsa-1")), "token expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := v.Verify(context.Background(), tt.token)
			checkVerify(t, got, err, tt.want)
		})
	}
}

// A token signed by a key added to the set after the verifier started is
// accepted: an unknown kid makes it fetch the set again, at most once per
// 10 s, so a flood of made-up kids fetches it only once.
func TestJWKSVerifierUnknownKID(t *testing.T) {
	t.Parallel()
	first, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := newJWKSServer(t)
	srv.add(t, "k1", jwkset.AlgES256, first.Public())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := httpadapter.NewJWKSVerifier(ctx, srv.URL, httpadapter.VerifierConfig{Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches at start, want 1", n)
	}
	rotated, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv.add(t, "k2", jwkset.AlgES256, rotated.Public())
	tok := sign(t, jwt.SigningMethodES256, claims(), rotated, map[string]any{"kid": "k2"})
	got, err := v.Verify(context.Background(), tok)
	checkVerify(t, got, err, "")
	for i := range 20 {
		bogus := sign(t, jwt.SigningMethodES256, claims(), rotated, map[string]any{"kid": "bogus-" + string(rune('a'+i))})
		_, err := v.Verify(context.Background(), bogus)
		checkVerify(t, httpadapter.Token{}, err, "unknown signing key")
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("%d fetches, want 2 (start, then one for the unknown kid k2)", n)
	}
}

func TestJWKSVerifierUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if _, err := httpadapter.NewJWKSVerifier(ctx, srv.URL, httpadapter.VerifierConfig{}); err == nil {
		t.Error("a JWKS URL nobody answers was accepted")
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(hs256(f, claims()))
	f.Add(none(f, claims()))
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")
	f.Add("")
	v := hsVerifier(f)
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := v.Verify(context.Background(), raw)
		if err == nil && (tok.Subject == "" || tok.IssuedAt == 0) {
			t.Fatalf("accepted %q with %+v", raw, tok)
		}
		if err != nil {
			if _, ok := errors.AsType[*httpadapter.InvalidTokenError](err); !ok {
				t.Fatalf("error %T, want *InvalidTokenError", err)
			}
		}
	})
}
