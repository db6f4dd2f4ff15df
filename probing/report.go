package probing

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/netpol-conformance/netpol-conformance/reachability"
	"github.com/netpol-conformance/netpol-conformance/record"
)

// Explainer returns the model's explanation of one cell.
type Explainer func(from, to string, key reachability.Key) string

// FailureMessage renders, for every table with a wrong, missing or
// flapping cell, the expected, observed and diff grids, then each wrong
// cell with the model's explanation. Implementation-defined differences are
// listed as such, never as failures. With pods on more than one node
// (placement, "ns/pod" to node), it says which pods ran where and marks
// each wrong cell as within one node or across nodes.
func FailureMessage(expected []*reachability.Table, res *Result, explain Explainer, placement map[string]string) string {
	var b strings.Builder
	observed := res.Last()
	switch {
	case len(res.Flapping) > 0:
		fmt.Fprintf(&b, "FLAPPING: the observation matched the model at %v, then %d cell(s) flipped back\n", res.TimeToEnforce.Round(time.Millisecond), len(res.Flapping))
	case !res.Converged:
		fmt.Fprintf(&b, "the observation did not match the model within %d probe pass(es) (last at %v after the change)\n", len(res.Passes), lastAt(res).Round(time.Millisecond))
	}
	byNode := podsByNode(placement)
	if len(byNode) > 1 {
		var parts []string
		for _, n := range slices.Sorted(maps.Keys(byNode)) {
			parts = append(parts, n+": "+strings.Join(byNode[n], " "))
		}
		fmt.Fprintf(&b, "nodes: %s\n", strings.Join(parts, "; "))
	}
	where := func(from, to string) string {
		if len(byNode) < 2 {
			return ""
		}
		switch p, ok := record.PlacementOf(placement, from, to); {
		case !ok:
			return ""
		case p == record.SameNode:
			return " [same node]"
		}
		return " [across nodes]"
	}
	for i, exp := range expected {
		if i >= len(observed) || i >= len(res.Comparisons) {
			break
		}
		c := res.Comparisons[i]
		if c.Matches() && len(c.Undefined) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s: expected\n%s", exp.Key, exp.Grid())
		fmt.Fprintf(&b, "%s: observed\n%s", exp.Key, observed[i].Grid())
		fmt.Fprintf(&b, "%s: diff (X = wrong, ? = implementation-defined or not pinned)\n%s", exp.Key, reachability.DiffGrid(exp, observed[i]).Grid())
		for _, m := range append(c.Wrong, c.Missing...) {
			fmt.Fprintf(&b, "  WRONG %s -> %s %s%s: expected %s, observed %s\n", m.From, m.To, exp.Key, where(m.From, m.To), m.Expected.Outcome, m.Observed)
			if explain != nil {
				for _, line := range strings.Split(strings.TrimSpace(explain(m.From, m.To, exp.Key)), "\n") {
					fmt.Fprintf(&b, "      %s\n", line)
				}
			}
		}
		for _, m := range c.Undefined {
			fmt.Fprintf(&b, "  implementation-defined %s -> %s %s: model's reading %s, observed %s (not a failure)\n", m.From, m.To, exp.Key, m.Expected.Outcome, m.Observed)
		}
	}
	return b.String()
}

// podsByNode lists the placed pods of each node, sorted.
func podsByNode(placement map[string]string) map[string][]string {
	byNode := map[string][]string{}
	for pod, n := range placement {
		byNode[n] = append(byNode[n], pod)
	}
	for _, pods := range byNode {
		slices.Sort(pods)
	}
	return byNode
}

func lastAt(res *Result) time.Duration {
	if len(res.Passes) == 0 {
		return 0
	}
	return res.Passes[len(res.Passes)-1].At
}
