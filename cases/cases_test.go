package cases

import (
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
