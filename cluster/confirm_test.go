package cluster

import (
	"testing"

	"github.com/netpol-conformance/netpol-conformance/reachability"
)

// The confirming flows never overwrite worse news of the plain pass: a
// denied cell answered a second earlier stays answered.
func TestMergeConfirming(t *testing.T) {
	keys := []string{"a", "b"}
	key := reachability.Key{Port: 80, Protocol: "TCP"}
	plain := reachability.New(key, keys, keys)
	denied := reachability.New(key, keys, keys)
	set := func(tb *reachability.Table, from, to string, o reachability.Outcome) {
		tb.Set(from, to, reachability.Cell{Outcome: o})
	}
	// a->b must be denied: the plain pass saw it answered, the repeated
	// flows all denied. b->a: plain denied, one repeated flow answered.
	// a->a: allowed, not repeated. b->b: plain denied, repeated errored.
	set(plain, "a", "b", reachability.Allowed)
	set(denied, "a", "b", reachability.Blocked)
	set(plain, "b", "a", reachability.Blocked)
	set(denied, "b", "a", reachability.Allowed)
	set(plain, "a", "a", reachability.Allowed)
	set(plain, "b", "b", reachability.Blocked)
	set(denied, "b", "b", reachability.ProbeError)
	leaked := mergeConfirming([]*reachability.Table{plain}, []*reachability.Table{denied})
	for _, tc := range []struct {
		from, to string
		want     reachability.Outcome
	}{
		{"a", "b", reachability.Allowed},
		{"b", "a", reachability.Allowed},
		{"a", "a", reachability.Allowed},
		{"b", "b", reachability.ProbeError},
	} {
		if got, _ := plain.Get(tc.from, tc.to); got.Outcome != tc.want {
			t.Errorf("%s->%s = %s, want %s", tc.from, tc.to, got.Outcome, tc.want)
		}
	}
	if leaked != 1 {
		t.Errorf("leaked = %d, want 1 (the plain pass's answer on a denied cell)", leaked)
	}
}
