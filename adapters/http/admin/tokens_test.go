package admin

import (
	"strings"
	"testing"
)

func TestParseTokens(t *testing.T) {
	t.Parallel()
	good := "# operators\n\nalice-token-0123456789 alice admin\n  victor-token-0123456789\tvictor  viewer \r\n;robot-token-0123456789 robot admin"
	tokens, err := ParseTokens(good, "test")
	if err != nil {
		t.Fatal(err)
	}
	want := []Token{
		{"alice-token-0123456789", "alice", RoleAdmin},
		{"victor-token-0123456789", "victor", RoleViewer},
		{"robot-token-0123456789", "robot", RoleAdmin},
	}
	if len(tokens) != len(want) {
		t.Fatalf("got %v, want %v", tokens, want)
	}
	for i := range want {
		if tokens[i] != want[i] {
			t.Errorf("token %d: got %+v, want %+v", i, tokens[i], want[i])
		}
	}
	for _, tt := range []struct{ text, want string }{
		{"short alice admin", "at least 16"},
		{"alice-token-0123456789 alice superuser", `role "superuser"`},
		{"alice-token-0123456789 alice", "got 2 fields"},
		{"alice-token-0123456789 alice admin extra", "got 4 fields"},
		{"alice-token-0123456789 alice admin\nalice-token-0123456789 bob viewer", "listed twice"},
		{"alice-token-0123456789 " + strings.Repeat("a", 257) + " admin", "actor longer"},
	} {
		_, err := ParseTokens(tt.text, "the test")
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "the test") {
			t.Errorf("%.40q: got %v, want an error naming the source and mentioning %q", tt.text, err, tt.want)
		}
	}
	if tokens, err := ParseTokens("# none\n\n", "x"); err != nil || len(tokens) != 0 {
		t.Errorf("only comments: %v, %v", tokens, err)
	}
}

func TestTokenLookup(t *testing.T) {
	t.Parallel()
	s := newTokenSet([]Token{{"alice-token-0123456789", "alice", RoleAdmin}, {"victor-token-0123456789", "victor", RoleViewer}})
	for secret, want := range map[string]Principal{
		"alice-token-0123456789":  {"alice", RoleAdmin},
		"victor-token-0123456789": {"victor", RoleViewer},
	} {
		if p, ok := s.lookup(secret); !ok || p != want {
			t.Errorf("lookup(%q) = %+v, %v", secret, p, ok)
		}
	}
	for _, secret := range []string{"", "alice-token-012345678", "alice-token-01234567890", "ALICE-TOKEN-0123456789"} {
		if p, ok := s.lookup(secret); ok {
			t.Errorf("lookup(%q) = %+v, want none", secret, p)
		}
	}
}
