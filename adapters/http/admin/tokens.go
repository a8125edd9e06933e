package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"strings"
)

// Role says what a token may do.
type Role string

const (
	// RoleAdmin may read and send commands.
	RoleAdmin Role = "admin"
	// RoleViewer may only read (GET).
	RoleViewer Role = "viewer"
)

// MinTokenLength is the shortest admin token accepted: a guessable token
// would let anyone in.
const MinTokenLength = 16

// Token is one admin credential: the secret, the actor recorded in the
// events its holder causes, and its role.
type Token struct {
	Secret string
	Actor  string
	Role   Role
}

// Principal is who a request is authenticated as.
type Principal struct {
	Actor string `json:"actor"`
	Role  Role   `json:"role"`
}

// ParseTokens reads token entries: `<token> <actor> <role>` separated by
// newlines or ';'; blank entries and entries starting with # are skipped.
// source names where the text came from, for the error messages.
func ParseTokens(text, source string) ([]Token, error) {
	var out []Token
	seen := map[string]bool{}
	for n, line := range strings.Split(strings.ReplaceAll(text, ";", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		at := fmt.Sprintf("admin tokens in %s, entry %d", source, n+1)
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("%s: want `<token> <actor> <role>` (role admin or viewer), got %d fields", at, len(f))
		}
		t := Token{Secret: f[0], Actor: f[1], Role: Role(f[2])}
		switch {
		case len(t.Secret) < MinTokenLength:
			return nil, fmt.Errorf("%s: the token has %d characters, want at least %d (e.g. `head -c 32 /dev/urandom | base64`)",
				at, len(t.Secret), MinTokenLength)
		case t.Role != RoleAdmin && t.Role != RoleViewer:
			return nil, fmt.Errorf("%s: role %q, want admin or viewer", at, t.Role)
		case len(t.Actor) > 256:
			return nil, fmt.Errorf("%s: actor longer than 256 bytes", at)
		case seen[t.Secret]:
			return nil, fmt.Errorf("%s: the same token is listed twice", at)
		}
		seen[t.Secret] = true
		out = append(out, t)
	}
	return out, nil
}

// tokenSet checks presented tokens in constant time: every configured
// token is compared (as SHA-256 digests, so lengths leak nothing) whether
// or not an earlier one matched.
type tokenSet struct {
	digests    [][sha256.Size]byte
	principals []Principal
}

func newTokenSet(tokens []Token) *tokenSet {
	s := &tokenSet{}
	for _, t := range tokens {
		s.digests = append(s.digests, sha256.Sum256([]byte(t.Secret)))
		s.principals = append(s.principals, Principal{Actor: t.Actor, Role: t.Role})
	}
	return s
}

func (s *tokenSet) empty() bool { return len(s.digests) == 0 }

// lookup returns the principal of secret.
func (s *tokenSet) lookup(secret string) (Principal, bool) {
	d := sha256.Sum256([]byte(secret))
	found := -1
	for i := range s.digests {
		if subtle.ConstantTimeCompare(d[:], s.digests[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Principal{}, false
	}
	return s.principals[found], true
}
