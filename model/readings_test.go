package model

import (
	"testing"

	"github.com/netpol-conformance/netpol-conformance/topology"
)

// Each reading changes what the model predicts exactly where its CNI
// departs from the spec, and nowhere the spec's model is wrong to begin
// with: every cell is checked both ways.
func TestReadings(t *testing.T) {
	tests := []struct {
		reading  Reading
		policies string
		// started relabels the topology the pods started with.
		started func(*topology.Topology)
		cell    cell // the spec's answer; the reading's is the opposite
	}{
		{IPBlockExcludesPodIPs, `
metadata: {name: from-yb, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 10.20.2.2/32}}]}]`, nil, tcp("y/b", "x/a", 80, true)},
		{IPBlockExceptIgnored, `
metadata: {name: all-but-yb, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 10.20.0.0/16, except: [10.20.2.2/32]}}]}]`, nil, tcp("y/b", "x/a", 80, false)},
		{EndPortIgnored, `
metadata: {name: range, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 80, endPort: 81}]}]`, nil, tcp("y/a", "x/a", 81, true)},
		{NamedPortsIgnored, `
metadata: {name: named, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: serve-80-tcp}]}]`, nil, tcp("y/a", "x/a", 80, true)},
		{PolicyWithNamedPortIgnored, `
metadata: {name: named, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: serve-80-tcp}]}]`, nil, tcp("y/a", "x/a", 81, false)},
		{PolicyTypesFollowRules, `
metadata: {name: ingress-only, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress: [{}]
  egress: [{to: [{podSelector: {matchLabels: {pod: b}}}]}]`, nil, tcp("x/a", "y/a", 80, true)},
		{LabelsFrozen, `
metadata: {name: deny-to-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]`, func(t *topology.Topology) { t.Pod("x/a").Labels = map[string]string{"pod": "was-not-a"} }, tcp("y/a", "x/a", 80, false)},
		{RulesMatchBothWays, `
metadata: {name: egress-all, namespace: x}
spec:
  podSelector: {}
  egress: [{}]`, nil, tcp("x/b", "x/a", 80, false)},
	}
	for _, tc := range tests {
		t.Run(string(tc.reading), func(t *testing.T) {
			topo := topology.Standard()
			for i := range topo.Namespaces {
				for j := range topo.Namespaces[i].Pods {
					topo.Namespaces[i].Pods[j].Node = "node-1"
				}
			}
			started := topo.DeepCopy()
			if tc.started != nil {
				tc.started(started)
			}
			ps := policies(t, tc.policies)
			spec, err := New(topo, ps)
			if err != nil {
				t.Fatal(err)
			}
			read, err := NewReading(topo, started, ps, []Reading{tc.reading})
			if err != nil {
				t.Fatal(err)
			}
			tr := Traffic{From: tc.cell.from, To: tc.cell.to, Port: tc.cell.port, Protocol: tc.cell.proto}
			sv, _ := spec.Evaluate(tr)
			rv, _ := read.Evaluate(tr)
			if sv.Allowed != tc.cell.allowed {
				t.Errorf("the spec's model: %s allowed=%v, want %v", tr, sv.Allowed, tc.cell.allowed)
			}
			if rv.Allowed == tc.cell.allowed {
				t.Errorf("reading %s: %s allowed=%v, the spec's answer; want the CNI's", tc.reading, tr, rv.Allowed)
			}
			// With no reading, NewReading is the spec.
			plain, err := NewReading(topo, started, ps, nil)
			if err != nil {
				t.Fatal(err)
			}
			if pv, _ := plain.Evaluate(tr); pv.Allowed != sv.Allowed {
				t.Errorf("NewReading with no reading departs from the spec")
			}
		})
	}
	if _, err := NewReading(topology.Standard(), nil, nil, []Reading{"made-up"}); err == nil {
		t.Error("an unknown reading was accepted")
	}
}

// kube-router's reading, cell by cell: a both-directions policy's rules
// admit traffic between the pods it selects whichever way they point, on
// one node and across nodes; a policy typed for one direction, and pods it
// does not select, keep the spec's answer.
func TestRulesMatchBothWays(t *testing.T) {
	topo := topology.Standard()
	topo.Pod("x/a").Node, topo.Pod("x/b").Node, topo.Pod("x/c").Node = "node-1", "node-2", "node-1"
	for _, tc := range []struct {
		name     string
		policies string
		cell     cell
	}{
		{"an egress rule admits ingress across nodes", `
metadata: {name: egress-all, namespace: x}
spec:
  podSelector: {}
  egress: [{}]`, tcp("x/a", "x/b", 80, true)},
		{"an egress rule admits ingress on one node", `
metadata: {name: egress-all, namespace: x}
spec:
  podSelector: {}
  egress: [{}]`, tcp("x/a", "x/c", 80, true)},
		{"a source the policy does not select stays denied", `
metadata: {name: egress-all, namespace: x}
spec:
  podSelector: {}
  egress: [{}]`, tcp("y/a", "x/b", 80, false)},
		{"an egress rule admits only the peers it allows", `
metadata: {name: egress-to-c, namespace: x}
spec:
  podSelector: {}
  egress: [{to: [{podSelector: {matchLabels: {pod: c}}}]}]`, tcp("x/a", "x/b", 80, false)},
		{"an egress rule admits only its ports", `
metadata: {name: egress-81, namespace: x}
spec:
  podSelector: {}
  egress: [{ports: [{port: 81}]}]`, tcp("x/a", "x/b", 80, false)},
		{"an ingress rule admits egress", `
metadata: {name: from-a, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{podSelector: {matchLabels: {pod: a}}}]}]`, tcp("x/a", "x/b", 80, true)},
		{"an ingress rule does not admit egress to a pod outside the policy", `
metadata: {name: from-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{podSelector: {matchLabels: {pod: a}}}]}]`, tcp("x/a", "x/b", 80, false)},
		{"a policy typed for egress only isolates no ingress and bypasses none", `
metadata: {name: egress-all, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{}]
---
metadata: {name: deny-ingress, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress]`, tcp("x/a", "x/b", 80, false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewReading(topo, nil, policies(t, tc.policies), []Reading{RulesMatchBothWays})
			if err != nil {
				t.Fatal(err)
			}
			tr := Traffic{From: tc.cell.from, To: tc.cell.to, Port: tc.cell.port, Protocol: tc.cell.proto}
			if v, _ := m.Evaluate(tr); v.Allowed != tc.cell.allowed {
				t.Errorf("%s allowed=%v, want %v (%+v)", tr, v.Allowed, tc.cell.allowed, v)
			}
		})
	}
}
