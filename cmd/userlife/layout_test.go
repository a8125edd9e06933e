package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyRule enforces the layout: events depends on the standard
// library only; domain and projections on events; an adapter never on a
// sibling adapter; nothing but cmd on cmd.
func TestDependencyRule(t *testing.T) {
	t.Parallel()
	const mod = "github.com/userlife/userlife/"
	deps := func(pkg string) []string {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	pkgs := func(pattern string) []string {
		out, err := exec.Command("go", "list", pattern).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pattern, err)
		}
		return strings.Fields(string(out))
	}
	for _, p := range pkgs("../../...") {
		if strings.HasPrefix(p, mod+"cmd/") {
			continue
		}
		rel := strings.TrimPrefix(p, mod)
		for _, d := range deps(p) {
			drel, ours := strings.CutPrefix(d, mod)
			if d == p {
				continue
			}
			switch {
			case rel == "events":
				t.Errorf("events imports %s: it may use the standard library only", d)
			case rel == "domain" || strings.HasPrefix(rel, "projections"):
				if !ours || (drel != "events" && !strings.HasPrefix(drel, "projections")) {
					t.Errorf("%s imports %s: it may use events only", rel, d)
				}
			case strings.HasPrefix(rel, "adapters/"):
				own := strings.Join(strings.SplitN(rel, "/", 3)[:2], "/")
				if ours && strings.HasPrefix(drel, "adapters/") && !strings.HasPrefix(drel, own) {
					t.Errorf("%s imports sibling adapter %s", rel, drel)
				}
			}
			if ours && strings.HasPrefix(drel, "cmd/") {
				t.Errorf("%s imports %s", rel, drel)
			}
		}
	}
}
