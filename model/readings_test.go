package model

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

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
			read, err := NewReading(topo, started, ps, ClusterPolicies{}, []Reading{tc.reading})
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
			plain, err := NewReading(topo, started, ps, ClusterPolicies{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if pv, _ := plain.Evaluate(tr); pv.Allowed != sv.Allowed {
				t.Errorf("NewReading with no reading departs from the spec")
			}
		})
	}
	if _, err := NewReading(topology.Standard(), nil, nil, ClusterPolicies{}, []Reading{"made-up"}); err == nil {
		t.Error("an unknown reading was accepted")
	}
}

// kube-router's reading, cell by cell: a both-directions policy's rules
// admit traffic between the pods it selects whichever way they point; a
// policy typed for one direction, pods it does not select, peers and
// ports its rules do not allow keep the spec's answer. Every case is also
// evaluated without the reading, so each shows what the reading changes
// or that it changes nothing.
func TestRulesMatchBothWays(t *testing.T) {
	topo := topology.Standard()
	// x/c serves a named port of its own: an ingress rule naming it
	// resolves at the destination, whichever end reads the rule.
	topo.Pod("x/c").Ports = append(topo.Pod("x/c").Ports, corev1.ContainerPort{Name: "only-c", ContainerPort: 80, Protocol: corev1.ProtocolTCP})
	for _, tc := range []struct {
		name     string
		policies string
		cell     cell
		spec     bool // the spec's answer for the cell
	}{
		{"an egress rule admits ingress", `
metadata: {name: egress-all, namespace: x}
spec:
  podSelector: {}
  egress: [{}]`, tcp("x/a", "x/b", 80, true), false},
		{"a source the policy does not select stays denied", `
metadata: {name: egress-all, namespace: x}
spec:
  podSelector: {}
  egress: [{}]`, tcp("y/a", "x/b", 80, false), false},
		{"an egress rule admits ingress to the peers it allows", `
metadata: {name: egress-to-b, namespace: x}
spec:
  podSelector: {}
  egress: [{to: [{podSelector: {matchLabels: {pod: b}}}]}]`, tcp("x/a", "x/b", 80, true), false},
		{"an egress rule admits no ingress to other peers", `
metadata: {name: egress-to-b, namespace: x}
spec:
  podSelector: {}
  egress: [{to: [{podSelector: {matchLabels: {pod: b}}}]}]
---
metadata: {name: egress-all-from-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{}]`, tcp("x/a", "x/c", 80, false), false},
		{"an egress rule admits ingress on its ports only", `
metadata: {name: egress-81, namespace: x}
spec:
  podSelector: {}
  egress: [{ports: [{port: 81}]}]
---
metadata: {name: egress-all-from-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{}]`, tcp("x/a", "x/b", 80, false), false},
		{"an ingress rule admits egress", `
metadata: {name: from-a, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{podSelector: {matchLabels: {pod: a}}}]}]`, tcp("x/a", "x/b", 80, true), false},
		{"an ingress rule's named port resolves at the destination", `
metadata: {name: from-a-to-only-c, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{podSelector: {matchLabels: {pod: a}}}], ports: [{port: only-c}]}]`, tcp("x/a", "x/c", 80, true), false},
		{"an ingress rule's named port the destination lacks admits nothing", `
metadata: {name: from-a-to-only-c, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{podSelector: {matchLabels: {pod: a}}}], ports: [{port: only-c}]}]`, tcp("x/a", "x/b", 80, false), false},
		{"an ingress rule admits no egress to a pod outside the policy", `
metadata: {name: from-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{podSelector: {matchLabels: {pod: a}}}]}]`, tcp("x/a", "x/b", 80, false), false},
		{"a policy typed for ingress only: its egress rules admit nothing", `
metadata: {name: ingress-typed, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  egress: [{}]`, tcp("x/a", "x/b", 80, false), false},
		{"a policy typed for egress only: its ingress rules admit nothing", `
metadata: {name: egress-typed, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  ingress: [{}]`, tcp("x/a", "x/b", 80, false), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := policies(t, tc.policies)
			spec, err := New(topo, ps)
			if err != nil {
				t.Fatal(err)
			}
			m, err := NewReading(topo, nil, ps, ClusterPolicies{}, []Reading{RulesMatchBothWays})
			if err != nil {
				t.Fatal(err)
			}
			tr := Traffic{From: tc.cell.from, To: tc.cell.to, Port: tc.cell.port, Protocol: tc.cell.proto}
			if v, _ := spec.Evaluate(tr); v.Allowed != tc.spec {
				t.Errorf("the spec's model: %s allowed=%v, want %v", tr, v.Allowed, tc.spec)
			}
			if v, _ := m.Evaluate(tr); v.Allowed != tc.cell.allowed {
				t.Errorf("%s allowed=%v, want %v (%+v)", tr, v.Allowed, tc.cell.allowed, v)
			}
		})
	}
}
