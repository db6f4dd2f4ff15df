package reachability

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

var key = Key{Port: 80, Protocol: corev1.ProtocolTCP}

func TestGridRoundTrip(t *testing.T) {
	in := New(key, []string{"x/a", "x/b"}, []string{"x/a", "x/b", "ext"})
	in.Set("x/a", "x/b", Cell{Outcome: Blocked})
	in.Set("x/b", "ext", Cell{Outcome: ProbeError})
	in.Set("x/a", "x/a", Cell{Outcome: Allowed})
	want := "-   x/a x/b ext\nx/a .   X   ?\nx/b ?   ?   E\n"
	if got := in.Grid(); got != want {
		t.Fatalf("Grid() =\n%s\nwant\n%s", got, want)
	}
	out, err := Parse(key, in.Grid())
	if err != nil {
		t.Fatal(err)
	}
	if out.Grid() != want {
		t.Errorf("Parse(Grid()) =\n%s", out.Grid())
	}
}

func TestParseErrors(t *testing.T) {
	tests := map[string]string{
		"":                     "empty table",
		"x/a .\n":              `header row must start with "-"`,
		"- x/a x/b\nx/a . Q\n": `"Q" is not one of`,
		"- x/a x/b\nx/a .\n":   "row x/a has 1 cells, want 2",
	}
	for text, want := range tests {
		if _, err := Parse(key, text); err == nil || !contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", text, err, want)
		}
	}
}

func TestCompare(t *testing.T) {
	keys := []string{"a", "b"}
	expected := New(key, keys, keys)
	observed := New(key, keys, keys)
	expected.Set("a", "a", Cell{Outcome: Allowed, ImplementationDefined: true})
	expected.Set("a", "b", Cell{Outcome: Blocked})
	expected.Set("b", "a", Cell{Outcome: Allowed})
	// b->b stays Unknown: not pinned, never compared.
	observed.Set("a", "a", Cell{Outcome: Blocked})
	observed.Set("a", "b", Cell{Outcome: ProbeError})
	observed.Set("b", "b", Cell{Outcome: Blocked})

	c := Compare(expected, observed)
	if len(c.Wrong) != 1 || c.Wrong[0].To != "b" || c.Wrong[0].Observed != ProbeError {
		t.Errorf("Wrong = %+v: a probe error must never pass for blocked", c.Wrong)
	}
	if len(c.Undefined) != 1 || c.Undefined[0].From != "a" || c.Undefined[0].To != "a" {
		t.Errorf("Undefined = %+v, want the loopback cell", c.Undefined)
	}
	if len(c.Missing) != 1 || c.Missing[0].From != "b" || c.Missing[0].To != "a" {
		t.Errorf("Missing = %+v, want b->a", c.Missing)
	}
	if c.Matches() {
		t.Error("Matches() with wrong and missing cells")
	}
	if got, want := DiffGrid(expected, observed).Grid(), "- a b\na ? X\nb X ?\n"; got != want {
		t.Errorf("DiffGrid =\n%s\nwant\n%s", got, want)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// Rendering is linear in the table's size: a 2,000 x 2,000 grid (4 M
// cells) renders in well under a second, where it once took minutes.
func BenchmarkGrid2000(b *testing.B) {
	keys := make([]string, 2000)
	for i := range keys {
		keys[i] = fmt.Sprintf("ns%d/p%d", i/100, i%100)
	}
	t := New(Key{Port: 80, Protocol: "TCP"}, keys, keys)
	for b.Loop() {
		_ = t.Grid()
	}
}
