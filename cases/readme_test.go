package cases

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// The README's counts of the table come from the table.
func TestREADMECounts(t *testing.T) {
	set, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	families, pinned := map[string]bool{}, 0
	for _, c := range set.Cases() {
		families[c.Family] = true
		has := len(c.Expect) > 0
		for _, s := range c.Steps {
			has = has || len(s.Expect) > 0
		}
		if has {
			pinned++
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf("%d cases in %d families", len(set.Cases()), len(families)),
		fmt.Sprintf("%d of them pin truth tables", pinned),
	} {
		if !strings.Contains(strings.Join(strings.Fields(string(readme)), " "), want) {
			t.Errorf("README.md does not say %q: update its counts", want)
		}
	}
}
