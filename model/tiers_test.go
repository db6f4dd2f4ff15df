package model

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	anpv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnpv1alpha2 "sigs.k8s.io/network-policy-api/apis/v1alpha2"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netpol-conformance/netpol-conformance/internal/strictyaml"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

// tiered decodes a multi-document YAML of NetworkPolicies and cluster-wide
// policies of either generation, by kind and apiVersion.
func tiered(t *testing.T, docs string) ([]networkingv1.NetworkPolicy, ClusterPolicies) {
	t.Helper()
	var nps []networkingv1.NetworkPolicy
	var cw ClusterPolicies
	for _, doc := range strings.Split(docs, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		decode := func(into any) {
			t.Helper()
			if err := strictyaml.Unmarshal([]byte(doc), into); err != nil {
				t.Fatalf("decoding %s: %v\n%s", meta.Kind, err, doc)
			}
		}
		switch {
		case meta.Kind == "AdminNetworkPolicy":
			var p anpv1alpha1.AdminNetworkPolicy
			decode(&p)
			cw.AdminNetworkPolicies = append(cw.AdminNetworkPolicies, p)
		case meta.Kind == "BaselineAdminNetworkPolicy":
			var p anpv1alpha1.BaselineAdminNetworkPolicy
			decode(&p)
			cw.BaselineAdminNetworkPolicies = append(cw.BaselineAdminNetworkPolicies, p)
		case meta.Kind == "ClusterNetworkPolicy" && meta.APIVersion == cnpv1alpha2.GroupVersion.String():
			var p cnpv1alpha2.ClusterNetworkPolicy
			decode(&p)
			b, err := ClusterNetworkPolicyFromV1alpha2(&p)
			if err != nil {
				t.Fatal(err)
			}
			cw.ClusterNetworkPolicies = append(cw.ClusterNetworkPolicies, b)
		case meta.Kind == "ClusterNetworkPolicy":
			var p cnpv1beta1.ClusterNetworkPolicy
			decode(&p)
			cw.ClusterNetworkPolicies = append(cw.ClusterNetworkPolicies, p)
		default:
			var p networkingv1.NetworkPolicy
			decode(&p)
			nps = append(nps, p)
		}
	}
	return nps, cw
}

// Policies used by several tests below.
const (
	npAllowAllToXA = `
metadata: {name: allow-all, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{}]`
	npDenyXA = `
metadata: {name: deny, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]`
)

// TestTiers checks the tiers against network-policy-api v0.3.0's type
// documentation, both generations, one sentence at a time.
func TestTiers(t *testing.T) {
	tests := []struct {
		name  string
		quote string
		yaml  string
		cells []cell
		// undefined lists cells ("from to") the spec leaves open.
		undefined []string
	}{
		{
			name:  "cnp admin deny beats a NetworkPolicy allow",
			quote: "Deny: Drops the selected traffic. No further ClusterNetworkPolicy or NetworkPolicy rules will be processed.",
			yaml: npAllowAllToXA + `
---
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: deny-from-y}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress:
  - {action: Deny, from: [{namespaces: {matchLabels: {ns: "y"}}}]}`,
			cells: []cell{tcp("y/b", "x/a", 80, false), tcp("z/b", "x/a", 80, true), tcp("y/b", "x/b", 80, false)},
		},
		{
			name:  "anp allow beats a NetworkPolicy deny",
			quote: "Allow: allows the selected traffic (even if it would otherwise have been denied by NetworkPolicy)",
			yaml: npDenyXA + `
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: allow-z}
spec:
  priority: 5
  subject: {pods: {namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}}
  ingress:
  - {action: Allow, from: [{namespaces: {matchLabels: {ns: z}}}]}`,
			cells: []cell{tcp("z/c", "x/a", 80, true), tcp("y/c", "x/a", 80, false), tcp("x/b", "x/a", 81, false)},
		},
		{
			name:  "pass delegates to the NetworkPolicy",
			quote: "Pass: Skips all further ClusterNetworkPolicy rules in the current tier for the selected traffic, and passes evaluation to the next tier.",
			yaml: npDenyXA + `
---
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: pass-then-allow}
spec:
  tier: Admin
  priority: 1
  subject: {namespaces: {}}
  ingress:
  - {action: Pass, from: [{namespaces: {matchLabels: {ns: "y"}}}]}
  - {action: Accept, from: [{namespaces: {}}]}`,
			// y is passed to the NetworkPolicy, which isolates x/a; the
			// rest is accepted by the second rule.
			cells: []cell{tcp("y/a", "x/a", 80, false), tcp("z/a", "x/a", 80, true), tcp("y/a", "x/b", 80, true)},
		},
		{
			name:  "pass skips the rest of the admin tier, not the baseline",
			quote: "Pass: instructs the selected traffic to skip any remaining ANP rules, and then pass execution to any NetworkPolicies that select the pod. If the pod is not selected by any NetworkPolicies then execution is passed to any BaselineAdminNetworkPolicies that select the pod.",
			yaml: `
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: pass}
spec:
  priority: 1
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{action: Pass, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: allow-later}
spec:
  priority: 2
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{action: Allow, from: [{namespaces: {}}]}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]`,
			cells: []cell{tcp("y/a", "x/a", 80, false), tcp("z/a", "x/a", 80, true), tcp("x/a", "y/a", 80, false)},
		},
		{
			name:  "a baseline deny does not override a NetworkPolicy allow",
			quote: "Baseline tier is a cluster-wide policy that can be overridden by the v1.NetworkPolicy.",
			yaml: npAllowAllToXA + `
---
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: baseline-deny}
spec:
  tier: Baseline
  priority: 0
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]`,
			cells: []cell{tcp("y/a", "x/a", 80, true), tcp("y/a", "x/b", 80, false)},
		},
		{
			name:  "a NetworkPolicy deny is final under a baseline accept",
			quote: "v1.NetworkPolicy always makes a final decision for selected pods. Further evaluation only happens for Pods not selected by a v1.NetworkPolicy.",
			yaml: npDenyXA + `
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress: [{action: Allow, from: [{namespaces: {}}]}]`,
			cells: []cell{tcp("y/a", "x/a", 80, false), tcp("y/a", "x/b", 80, true)},
		},
		{
			name:  "lower priority value first",
			quote: "Policies with lower priority values have higher precedence, and are checked before policies with higher priority values.",
			yaml: `
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: a-deny}
spec:
  tier: Admin
  priority: 20
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]
---
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: b-accept-y}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {}}
  ingress: [{action: Accept, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]`,
			cells: []cell{tcp("y/a", "x/a", 80, true), tcp("z/a", "x/a", 80, false)},
		},
		{
			name:  "rules in the order written",
			quote: "The relative precedence of ingress rules within a single CNP object (all of which share the priority) will be determined by the order in which the rule is written.",
			yaml: `
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: ordered}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {}}
  ingress:
  - {action: Accept, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: b}}}}]}
  - {action: Deny, from: [{namespaces: {}}]}`,
			cells: []cell{tcp("y/b", "x/a", 80, true), tcp("y/c", "x/a", 80, false)},
		},
		{
			name:  "equal priorities that disagree are implementation-defined",
			quote: "If two (or more) policies in the same tier with the same priority could match a connection, then the implementation can apply any of the matching policies to the connection",
			yaml: `
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: tie-accept}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {}}
  ingress: [{action: Accept, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]
---
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: tie-deny}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]`,
			cells:     []cell{tcp("z/a", "x/a", 80, false)},
			undefined: []string{"y/a x/a"},
		},
		{
			name:  "a network of every address denies pods and externals alike",
			quote: "So if you Accept or Deny traffic to \"0.0.0.0/0\", that will allow or deny all IPv4 pod-to-pod traffic as well.",
			yaml: `
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: deny-all-egress}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {}}
  egress: [{action: Deny, to: [{networks: [0.0.0.0/0]}]}]`,
			cells: []cell{tcp("x/a", "y/a", 80, false), tcp("x/a", "10.99.0.1", 80, false)},
		},
		{
			name:  "networks match cluster-internal traffic",
			quote: "note that cluster-internal traffic will be checked against the rule as well. So if you Accept or Deny traffic to \"0.0.0.0/0\", that will allow or deny all IPv4 pod-to-pod traffic as well.",
			yaml: `
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-y-range}
spec:
  priority: 3
  subject: {namespaces: {matchLabels: {ns: x}}}
  egress: [{action: Deny, to: [{networks: [10.20.2.0/24]}]}]`,
			cells: []cell{tcp("x/a", "y/a", 80, false), tcp("x/a", "z/a", 80, true), tcp("y/a", "y/b", 80, true)},
		},
		{
			name:  "numbered ports, ranges and protocols",
			quote: "Ports allows for matching traffic based on port and protocols. ... PortRange selects a port range on a pod(s) based on provided start and end values.",
			yaml: `
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: ports}
spec:
  priority: 3
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress:
  - action: Deny
    from: [{namespaces: {}}]
    ports: [{portNumber: {port: 80}}, {portRange: {protocol: UDP, start: 81, end: 90}}]`,
			cells: []cell{
				tcp("y/a", "x/a", 80, false), tcp("y/a", "x/a", 81, true),
				{"y/a", "x/a", 81, corev1.ProtocolUDP, false}, {"y/a", "x/a", 80, corev1.ProtocolUDP, true},
			},
		},
		{
			name:  "cnp protocols, a range and a named port",
			quote: "DestinationNamedPort selects a destination port on a pod based on the ContainerPort name.",
			yaml: `
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: named}
spec:
  tier: Admin
  priority: 3
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress:
  - action: Deny
    from: [{namespaces: {}}]
    protocols: [{destinationNamedPort: serve-81-udp}, {tcp: {destinationPort: {range: {start: 79, end: 80}}}}]`,
			cells: []cell{
				tcp("y/a", "x/a", 80, false), tcp("y/a", "x/a", 81, true),
				{"y/a", "x/a", 81, corev1.ProtocolUDP, false}, {"y/a", "x/a", 80, corev1.ProtocolUDP, true},
			},
		},
		{
			name:  "an egress accept leaves the destination's ingress to decide",
			quote: "Accept: ... No further egress ClusterNetworkPolicy or NetworkPolicy rules will be processed but any ingress rules at the destination do apply.",
			yaml: npDenyXA + `
---
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: accept-egress}
spec:
  tier: Admin
  priority: 3
  subject: {namespaces: {}}
  egress: [{action: Accept, to: [{namespaces: {}}]}]`,
			cells: []cell{tcp("y/a", "x/a", 80, false), tcp("y/a", "x/b", 80, true)},
		},
		{
			name:  "a baseline pass falls to the default",
			quote: "If a given connection wasn't allowed or denied by any of the tiers, the default kubernetes policy is applied, which says that all pods can communicate with each other.",
			yaml: `
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: b1}
spec:
  tier: Baseline
  priority: 1
  subject: {namespaces: {}}
  ingress: [{action: Pass, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]
---
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: b2}
spec:
  tier: Baseline
  priority: 2
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]`,
			cells: []cell{tcp("y/a", "x/a", 80, true), tcp("z/a", "x/a", 80, false)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nps, cw := tiered(t, tc.yaml)
			m, err := NewTiered(topology.Standard(), nps, cw)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tc.cells {
				v, err := m.Evaluate(Traffic{From: c.from, To: c.to, Port: c.port, Protocol: c.proto})
				if err != nil {
					t.Fatal(err)
				}
				if v.Allowed != c.allowed || !v.Defined() {
					t.Errorf("%s -> %s %d/%s: allowed %v (undefined %v), want %v (spec: %q)\n%s", c.from, c.to, c.port, c.proto, v.Allowed, v.ImplementationDefined, c.allowed, tc.quote, v.Explain())
				}
			}
			for _, u := range tc.undefined {
				from, to, _ := strings.Cut(u, " ")
				v, _ := m.Evaluate(Traffic{From: from, To: to, Port: 80, Protocol: corev1.ProtocolTCP})
				if v.Defined() {
					t.Errorf("%s: defined (%v), want implementation-defined\n%s", u, v.Allowed, v.Explain())
				}
			}
		})
	}
}

// TestTierNodes checks nodes peers, which select node addresses by the
// node's labels, and that a cluster-wide decision about a pod's own node
// stands where NetworkPolicy's exception would allow it.
func TestTierNodes(t *testing.T) {
	topo := topology.Standard()
	topo.Externals = append(topo.Externals,
		topology.External{Name: "node-1", IP: "10.30.0.1", Node: true, NodeName: "n1", Labels: map[string]string{"role": "cp"}},
		topology.External{Name: "node-2", IP: "10.30.0.2", Node: true, NodeName: "n2", Labels: map[string]string{"role": "worker"}})
	topo.Namespace("x").Pods[0].Node = "n1"
	topo.Namespaces = append(topo.Namespaces, topology.Namespace{Name: "nodes", Pods: []topology.Pod{
		{Name: "node-1", IP: "10.30.0.1", HostNetwork: true, Node: "n1"},
	}})
	nps, cw := tiered(t, `
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: deny-cp}
spec:
  tier: Admin
  priority: 1
  subject: {namespaces: {}}
  egress: [{action: Deny, to: [{nodes: {matchLabels: {role: cp}}}]}]`)
	m, err := NewTiered(topo, nps, cw)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		to      string
		allowed bool
	}{
		{"node-1", false}, {"node-2", true},
		// A host-network pod has its node's address.
		{"nodes/node-1", false},
		// The API server's address is on a node, but not a known node's.
		{"apiserver", true},
	} {
		v, err := m.Evaluate(Traffic{From: "x/a", To: tc.to, Port: 80, Protocol: corev1.ProtocolTCP})
		if err != nil {
			t.Fatal(err)
		}
		if v.Allowed != tc.allowed {
			t.Errorf("x/a -> %s: allowed %v, want %v\n%s", tc.to, v.Allowed, tc.allowed, v.Explain())
		}
	}
}

func TestTierExplainChain(t *testing.T) {
	nps, cw := tiered(t, `
metadata: {name: allow-web, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {}}]}]
---
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: deny-db}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {}}
  ingress:
  - {name: z-denied, action: Deny, from: [{namespaces: {matchLabels: {ns: z}}}]}
  - {name: rest-passed, action: Pass, from: [{namespaces: {}}]}`)
	m, err := NewTiered(topology.Standard(), nps, cw)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := m.Evaluate(Traffic{From: "y/a", To: "x/a", Port: 80, Protocol: corev1.ProtocolTCP})
	want := `ingress at x/a: [Admin cnp/deny-db prio 10 ingress[1] "rest-passed"] Pass → [NetworkPolicy x/allow-web ingress[0] from[0] (any port)] Allow`
	if !v.Allowed || !strings.Contains(v.Explain(), want) {
		t.Errorf("Explain() =\n%s\nwant a line\n%s", v.Explain(), want)
	}
	v, _ = m.Evaluate(Traffic{From: "z/a", To: "x/a", Port: 80, Protocol: corev1.ProtocolTCP})
	want = `ingress at x/a: [Admin cnp/deny-db prio 10 ingress[0] "z-denied"] Deny`
	if v.Allowed || !strings.Contains(v.Explain(), want) {
		t.Errorf("Explain() =\n%s\nwant a line\n%s", v.Explain(), want)
	}
}

// TestV1alpha2IsV1beta1 checks that the conversion keeps every field, so
// both versions of ClusterNetworkPolicy decide alike.
func TestV1alpha2IsV1beta1(t *testing.T) {
	in := cnpv1alpha2.ClusterNetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: cnpv1alpha2.ClusterNetworkPolicySpec{
			Tier: cnpv1alpha2.BaselineTier, Priority: 7,
			Subject: cnpv1alpha2.ClusterNetworkPolicySubject{Namespaces: &metav1.LabelSelector{}},
			Egress: []cnpv1alpha2.ClusterNetworkPolicyEgressRule{{
				Name: "r", Action: cnpv1alpha2.ClusterNetworkPolicyRuleActionDeny,
				To:        []cnpv1alpha2.ClusterNetworkPolicyEgressPeer{{Networks: []cnpv1alpha2.CIDR{"10.0.0.0/8"}}},
				Protocols: []cnpv1alpha2.ClusterNetworkPolicyProtocol{{UDP: &cnpv1alpha2.ClusterNetworkPolicyProtocolUDP{DestinationPort: &cnpv1alpha2.Port{Number: 53}}}},
			}},
		},
	}
	out, err := ClusterNetworkPolicyFromV1alpha2(&in)
	if err != nil {
		t.Fatal(err)
	}
	if out.Spec.Tier != cnpv1beta1.BaselineTier || out.Spec.Priority != 7 || out.Spec.Subject.Namespaces == nil ||
		len(out.Spec.Egress) != 1 || out.Spec.Egress[0].Protocols[0].UDP.DestinationPort.Number != 53 || out.Spec.Egress[0].To[0].Networks[0] != "10.0.0.0/8" {
		t.Errorf("converted = %+v", out.Spec)
	}
}

func TestClusterNamedPortsMatchAllPorts(t *testing.T) {
	nps, cw := tiered(t, `
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-named}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {ns: "y"}}}], ports: [{namedPort: serve-80-udp}]}]`)
	spec, err := NewReading(topology.Standard(), nil, nps, cw, nil)
	if err != nil {
		t.Fatal(err)
	}
	read, err := NewReading(topology.Standard(), nil, nps, cw, []Reading{ClusterNamedPortsMatchAllPorts})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		traffic     Traffic
		spec, reads bool
	}{
		{Traffic{From: "y/a", To: "x/a", Port: 80, Protocol: corev1.ProtocolUDP}, false, false},
		{Traffic{From: "y/a", To: "x/a", Port: 81, Protocol: corev1.ProtocolTCP}, true, false},
		{Traffic{From: "z/a", To: "x/a", Port: 81, Protocol: corev1.ProtocolTCP}, true, true},
	} {
		a, _ := spec.Evaluate(tc.traffic)
		b, _ := read.Evaluate(tc.traffic)
		if a.Allowed != tc.spec || b.Allowed != tc.reads {
			t.Errorf("%s: spec %v reading %v, want %v %v", tc.traffic, a.Allowed, b.Allowed, tc.spec, tc.reads)
		}
	}
	if cw.AdminNetworkPolicies[0].Spec.Ingress[0].Ports == nil {
		t.Error("the reading changed its input")
	}
}

// A tie in the Admin tier whose one choice passes to a tie in the Baseline
// tier: the answer depends on both choices.
func TestPriorityTieAcrossTiers(t *testing.T) {
	nps, cw := tiered(t, `
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: a}
spec: {tier: Admin, priority: 10, subject: {namespaces: {}}, ingress: [{action: Accept, from: [{namespaces: {}}]}]}
---
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: b}
spec: {tier: Admin, priority: 10, subject: {namespaces: {}}, ingress: [{action: Pass, from: [{namespaces: {}}]}]}
---
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: x}
spec: {tier: Baseline, priority: 5, subject: {namespaces: {}}, ingress: [{action: Accept, from: [{namespaces: {}}]}]}
---
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: "y"}
spec: {tier: Baseline, priority: 5, subject: {namespaces: {}}, ingress: [{action: Deny, from: [{namespaces: {}}]}]}`)
	m, err := NewTiered(topology.Standard(), nps, cw)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := m.Evaluate(Traffic{From: "y/a", To: "x/a", Port: 80, Protocol: corev1.ProtocolTCP})
	if v.Defined() {
		t.Errorf("defined (%v), want priority-tie: b then y denies, every other choice allows\n%s", v.Allowed, v.Explain())
	}
}
