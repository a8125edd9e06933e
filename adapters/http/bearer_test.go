package http

import "testing"

func TestBearer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		values []string
		token  string
		status authStatus
	}{
		{nil, "", noToken},
		{[]string{"Basic abc"}, "", noToken},
		{[]string{"Bearer abc"}, "abc", hasToken},
		{[]string{"bearer abc"}, "abc", hasToken},
		{[]string{"BEARER  abc "}, "abc", hasToken},
		{[]string{"Bearer"}, "", malformed},
		{[]string{"Bearer "}, "", malformed},
		{[]string{"Bearer a b"}, "", malformed},
		{[]string{"Bearer a", "Bearer b"}, "", malformed},
	}
	for _, tt := range tests {
		token, status := bearer(tt.values)
		if token != tt.token || status != tt.status {
			t.Errorf("bearer(%q) = %q, %d; want %q, %d", tt.values, token, status, tt.token, tt.status)
		}
	}
}

func TestQuotable(t *testing.T) {
	t.Parallel()
	if got, want := quotable("a \"b\" \\ é\n"), "a ?b? ? ??"; got != want {
		t.Errorf("quotable = %q, want %q", got, want)
	}
}

func FuzzBearer(f *testing.F) {
	f.Add("Bearer abc")
	f.Add("bearer")
	f.Fuzz(func(t *testing.T, v string) {
		token, status := bearer([]string{v})
		if (status == hasToken) != (token != "") {
			t.Fatalf("bearer(%q) = %q, %d", v, token, status)
		}
	})
}
