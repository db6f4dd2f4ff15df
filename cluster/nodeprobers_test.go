package cluster

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/netpol-conformance/netpol-conformance/reachability"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

// TestUnreachedFromNodes checks the gate on the node rows: only a node's
// cells count, and any outcome but allowed is unreached.
func TestUnreachedFromNodes(t *testing.T) {
	topo := &topology.Topology{Externals: []topology.External{
		{Name: "node-1", IP: "10.0.0.1", Node: true, NodeName: "n1", Prober: "nodes/node-1"},
		{Name: "apiserver", IP: "10.96.0.1", Node: true},
	}}
	key := reachability.Key{Port: 80, Protocol: corev1.ProtocolTCP}
	tbl := reachability.New(key, []string{"x/a", "node-1", "apiserver"}, []string{"x/a", "x/b"})
	for i := range tbl.From {
		for j := range tbl.To {
			tbl.SetAt(i, j, reachability.Cell{Outcome: reachability.Blocked})
		}
	}
	tbl.Set("node-1", "x/a", reachability.Cell{Outcome: reachability.Allowed})
	got := unreachedFromNodes([]*reachability.Table{tbl}, topo)
	if len(got) != 1 || got[0] != "node-1 -> x/b 80/TCP blocked" {
		t.Errorf("unreached = %q, want only node-1 -> x/b", got)
	}
	tbl.Set("node-1", "x/b", reachability.Cell{Outcome: reachability.ProbeError})
	if got := unreachedFromNodes([]*reachability.Table{tbl}, topo); len(got) != 1 {
		t.Errorf("a probe error from a node must count as unreached: %q", got)
	}
}
