package cases

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netpol-conformance/netpol-conformance/topology"
)

// TestBuiltin loads the shipped table and checks every stage of every case
// against the model, and every pinned table against the model's tables.
func TestBuiltin(t *testing.T) {
	set, err := Builtin()
	if err != nil {
		t.Fatalf("loading the built-in cases:\n%v", err)
	}
	all := set.Cases()
	if len(all) == 0 {
		t.Fatal("no built-in cases")
	}
	pinned := 0
	for _, c := range all {
		t.Run(c.Name, func(t *testing.T) {
			stages, err := c.Stages(topology.Standard())
			if err != nil {
				t.Fatal(err)
			}
			hasPin := false
			for _, s := range stages {
				m, err := s.Model()
				if err != nil {
					t.Fatalf("%s: %v", s.Name(), err)
				}
				if err := s.CheckPinned(m); err != nil {
					t.Error(err)
				}
				hasPin = hasPin || len(s.Expect) > 0
			}
			if hasPin {
				pinned++
			}
		})
	}
	t.Logf("%d cases, %d with hand-pinned tables", len(all), pinned)
	if pinned*3 < len(all) {
		t.Errorf("%d of %d cases pin a truth table; at least a third must", pinned, len(all))
	}
}

// TestBuiltinAndUserFiles loads a ConfigMap-like directory next to the
// built-in table: hidden entries are ignored, a user case joins the set,
// and a user case may not take a built-in name.
func TestBuiltinAndUserFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("mine.yaml", "family: mine\ndescription: d\ncases:\n- name: my-case\n  description: d\n")
	write(".hidden.yaml", "not: [valid")
	write("README.md", "ignored")
	set, err := LoadBuiltinAndPaths([]string{dir}, topology.Standard())
	if err != nil {
		t.Fatal(err)
	}
	if set.Case("my-case") == nil || set.Case("deny-all-ingress-in-x") == nil {
		t.Error("the set lacks the user's case or the built-in ones")
	}
	write("clash.yaml", "family: clash\ndescription: d\ncases:\n- name: deny-all-ingress-in-x\n  description: d\n")
	if _, err := LoadBuiltinAndPaths([]string{dir}, topology.Standard()); err == nil || !strings.Contains(err.Error(), "duplicate case name") {
		t.Errorf("a user case reusing a built-in name: %v", err)
	}
}

func TestDigestIdentifiesTheCaseFiles(t *testing.T) {
	a, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Builtin()
	if a.Digest() != b.Digest() || !strings.HasPrefix(a.Digest(), "sha256:") {
		t.Errorf("digests %q and %q of the same files", a.Digest(), b.Digest())
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mine.yaml"), []byte("family: mine\ndescription: d\ncases:\n- name: my-case\n  description: d\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadBuiltinAndPaths([]string{dir}, topology.Standard())
	if err != nil {
		t.Fatal(err)
	}
	if c.Digest() == a.Digest() {
		t.Error("adding a case file did not change the digest")
	}
}
