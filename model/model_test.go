package model

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/netpol-conformance/netpol-conformance/internal/strictyaml"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

// policies decodes a multi-document YAML of NetworkPolicies.
func policies(t *testing.T, docs string) []networkingv1.NetworkPolicy {
	t.Helper()
	var out []networkingv1.NetworkPolicy
	for _, doc := range strings.Split(docs, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var p networkingv1.NetworkPolicy
		if err := strictyaml.Unmarshal([]byte(doc), &p); err != nil {
			t.Fatalf("decoding policy: %v\n%s", err, doc)
		}
		out = append(out, p)
	}
	return out
}

type cell struct {
	from, to string
	port     int32
	proto    corev1.Protocol
	allowed  bool
}

func tcp(from, to string, port int32, allowed bool) cell {
	return cell{from, to, port, corev1.ProtocolTCP, allowed}
}

// TestSpec checks the model against the API reference, one sentence at a
// time. Every case quotes the sentence it implements.
func TestSpec(t *testing.T) {
	tests := []struct {
		name  string
		quote string
		topo  func(*topology.Topology)
		yaml  string
		cells []cell
	}{
		{
			name:  "no policy allows everything",
			quote: "Traffic is allowed to a pod if there are no NetworkPolicies selecting the pod",
			cells: []cell{tcp("x/a", "y/b", 80, true), tcp("z/c", "x/a", 81, true)},
		},
		{
			name:  "empty ingress isolates",
			quote: "If this field is empty then this NetworkPolicy does not allow any traffic (and serves solely to ensure that the pods it selects are isolated by default)",
			yaml: `
metadata: {name: deny, namespace: x}
spec: {podSelector: {}}`,
			cells: []cell{tcp("y/a", "x/b", 80, false), tcp("x/a", "x/b", 80, false), tcp("x/a", "y/b", 80, true)},
		},
		{
			name:  "policyTypes defaults to Ingress without egress rules",
			quote: "all policies (whether or not they contain an ingress section) are assumed to affect ingress",
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  ingress: [{}]`,
			cells: []cell{tcp("x/a", "y/b", 80, true), tcp("y/a", "x/a", 80, true)},
		},
		{
			name:  "egress section implies Egress",
			quote: "policies that contain an egress section are assumed to affect egress",
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  egress: [{to: [{podSelector: {matchLabels: {pod: b}}}]}]`,
			cells: []cell{tcp("x/a", "x/b", 80, true), tcp("x/a", "x/c", 80, false), tcp("x/a", "y/b", 80, false),
				// Ingress is assumed too, and the policy has no ingress rules.
				tcp("y/a", "x/a", 80, false)},
		},
		{
			name:  "egress-only policy must say so",
			quote: "If you want to write an egress-only policy, you must explicitly specify policyTypes [ \"Egress\" ]",
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]`,
			cells: []cell{tcp("x/a", "y/a", 80, false), tcp("y/a", "x/a", 80, true)},
		},
		{
			name:  "explicit policyTypes ignore the rules of other directions",
			quote: "policyTypes is a list of rule types that the NetworkPolicy relates to.",
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  egress: [{to: [{podSelector: {matchLabels: {pod: b}}}]}]`,
			cells: []cell{tcp("x/a", "y/a", 80, true), tcp("y/a", "x/a", 80, false)},
		},
		{
			name:  "egress at source AND ingress at destination",
			quote: "both the egress policy on the source pod and the ingress policy on the destination pod need to allow the connection",
			yaml: `
metadata: {name: egress-to-y, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {matchLabels: {ns: "y"}}}]}]
---
metadata: {name: ingress-from-z, namespace: "y"}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: z}}}]}]`,
			cells: []cell{tcp("x/a", "y/a", 80, false), tcp("z/a", "y/a", 80, true), tcp("x/a", "z/a", 80, false)},
		},
		{
			name:  "policies are additive",
			quote: "the connections allowed in that direction from that pod is the union of what the applicable policies allow",
			yaml: `
metadata: {name: from-a, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {matchLabels: {pod: a}}}]}]
---
metadata: {name: from-b, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]`,
			cells: []cell{tcp("x/a", "x/c", 80, true), tcp("x/b", "x/c", 80, true), tcp("x/c", "x/a", 80, false)},
		},
		{
			name:  "empty from matches all sources",
			quote: "If this field is empty or missing, this rule matches all sources (traffic not restricted by source).",
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [], ports: [{port: 81}]}]`,
			cells: []cell{tcp("z/c", "x/a", 81, true), tcp("z/c", "x/a", 80, false)},
		},
		{
			name:  "peer podSelector alone stays in the policy's namespace",
			quote: "Otherwise it selects the pods matching podSelector in the policy's own namespace.",
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {}}]}]`,
			cells: []cell{tcp("x/b", "x/a", 80, true), tcp("y/b", "x/a", 80, false)},
		},
		{
			name:  "empty namespaceSelector selects all namespaces",
			quote: "if present but empty, it selects all namespaces",
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}}]}]`,
			cells: []cell{tcp("y/b", "x/a", 80, true), tcp("z/c", "x/a", 80, true)},
		},
		{
			name:  "podSelector and namespaceSelector in one peer are ANDed",
			quote: "If namespaceSelector is also set, then the NetworkPolicyPeer as a whole selects the pods matching podSelector in the Namespaces selected by NamespaceSelector.",
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {ns: "y"}}
      podSelector: {matchLabels: {pod: b}}`,
			cells: []cell{tcp("y/b", "x/a", 80, true), tcp("y/a", "x/a", 80, false), tcp("z/b", "x/a", 80, false), tcp("x/b", "x/a", 80, false)},
		},
		{
			name:  "two peers are ORed",
			quote: "Items in this list are combined using a logical OR operation.",
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {ns: "y"}}
    - podSelector: {matchLabels: {pod: b}}`,
			cells: []cell{tcp("y/a", "x/a", 80, true), tcp("x/b", "x/a", 80, true), tcp("z/b", "x/a", 80, false), tcp("x/c", "x/a", 80, false)},
		},
		{
			name:  "matchExpressions In, NotIn, Exists, DoesNotExist",
			quote: "This field follows standard label selector semantics",
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {matchExpressions: [{key: pod, operator: NotIn, values: [c]}]}
  ingress:
  - from:
    - namespaceSelector: {matchExpressions: [{key: ns, operator: In, values: ["y", z]}]}
      podSelector: {matchExpressions: [{key: pod, operator: Exists}, {key: missing, operator: DoesNotExist}]}`,
			cells: []cell{tcp("y/a", "x/a", 80, true), tcp("z/c", "x/b", 80, true), tcp("x/b", "x/a", 80, false),
				// x/c is not selected, so not isolated.
				tcp("x/b", "x/c", 80, true)},
		},
		{
			name:  "namespace name label",
			quote: "The Kubernetes control plane sets an immutable label kubernetes.io/metadata.name on all namespaces",
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: z}}}]}]`,
			cells: []cell{tcp("z/a", "x/a", 80, true), tcp("y/a", "x/a", 80, false)},
		},
		{
			name:  "numeric port with default protocol TCP",
			quote: "protocol represents the protocol (TCP, UDP, or SCTP) which traffic must match. If not specified, this field defaults to TCP.",
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 80}]}]`,
			cells: []cell{tcp("y/a", "x/a", 80, true), tcp("y/a", "x/a", 81, false),
				{"y/a", "x/a", 80, corev1.ProtocolUDP, false}, {"y/a", "x/a", 80, corev1.ProtocolSCTP, false}},
		},
		{
			name:  "protocol without port matches every port of that protocol only",
			quote: "If this field is not provided, this matches all port names and numbers. If present, only traffic on the specified protocol AND port will be matched.",
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{protocol: UDP}]}]`,
			cells: []cell{{"y/a", "x/a", 80, corev1.ProtocolUDP, true}, {"y/a", "x/a", 81, corev1.ProtocolUDP, true},
				tcp("y/a", "x/a", 80, false), {"y/a", "x/a", 81, corev1.ProtocolSCTP, false}},
		},
		{
			name:  "named port resolves on the destination for ingress",
			quote: "This can either be a numerical or named port on a pod.",
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: serve-81-udp, protocol: UDP}]}]`,
			cells: []cell{{"y/a", "x/a", 81, corev1.ProtocolUDP, true}, {"y/a", "x/a", 80, corev1.ProtocolUDP, false}, tcp("y/a", "x/a", 81, false)},
		},
		{
			name:  "named port with the wrong protocol matches nothing",
			quote: "If present, only traffic on the specified protocol AND port will be matched.",
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: serve-80-udp}]}]`,
			cells: []cell{{"y/a", "x/a", 80, corev1.ProtocolUDP, false}, tcp("y/a", "x/a", 80, false)},
		},
		{
			name:  "named port resolves on the destination for egress",
			quote: "ports is a list of destination ports for outgoing traffic.",
			topo: func(t *topology.Topology) {
				// y/b names port 81 "serve-80-tcp": the destination's name wins.
				t.Pod("y/b").Ports = []corev1.ContainerPort{{Name: "serve-80-tcp", ContainerPort: 81, Protocol: corev1.ProtocolTCP}}
			},
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{ports: [{port: serve-80-tcp}]}]`,
			cells: []cell{tcp("x/a", "y/a", 80, true), tcp("x/a", "y/b", 80, false), tcp("x/a", "y/b", 81, true)},
		},
		{
			name:  "endPort range is inclusive",
			quote: "endPort indicates that the range of ports from port to endPort if set, inclusive, should be allowed by the policy.",
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 81, endPort: 90}]}]`,
			cells: []cell{tcp("y/a", "x/a", 80, false), tcp("y/a", "x/a", 81, true), tcp("y/a", "x/a", 90, true), tcp("y/a", "x/a", 91, false)},
		},
		{
			name:  "ipBlock with except applies to pod IPs",
			quote: "The except entry describes CIDRs that should not be included within this rule.",
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 10.20.0.0/16, except: [10.20.2.2/32]}}]}]`,
			cells: []cell{tcp("y/a", "x/a", 80, true), tcp("y/b", "x/a", 80, false), tcp("z/b", "x/a", 80, true)},
		},
		{
			name:  "ipBlock applies to external IPs, selectors never do",
			quote: "ipBlock defines policy on a particular IPBlock.",
			topo: func(t *topology.Topology) {
				t.Externals = append(t.Externals, topology.External{Name: "web", IP: "203.0.113.7"}, topology.External{Name: "other", IP: "198.51.100.1"})
			},
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress, Ingress]
  egress:
  - to: [{ipBlock: {cidr: 203.0.113.0/24}}, {namespaceSelector: {}}]
  ingress:
  - from: [{ipBlock: {cidr: 0.0.0.0/0, except: [198.51.100.0/24]}}]`,
			cells: []cell{tcp("x/a", "web", 443, true), tcp("x/a", "other", 443, false), tcp("web", "x/a", 80, true), tcp("other", "x/a", 80, false)},
		},
		{
			name:  "named port never matches an external destination",
			quote: "This can either be a numerical or named port on a pod.",
			topo: func(t *topology.Topology) {
				t.Externals = append(t.Externals, topology.External{Name: "web", IP: "203.0.113.7"})
			},
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{ports: [{port: serve-80-tcp}]}]`,
			cells: []cell{tcp("x/a", "web", 80, false), tcp("x/a", "y/a", 80, true)},
		},
		{
			name:  "a policy that selects no pod isolates nothing",
			quote: "The array of rules is applied to any pods selected by this field.",
			yaml: `
metadata: {name: p, namespace: x}
spec:
  podSelector: {matchLabels: {pod: nobody}}
  policyTypes: [Ingress, Egress]`,
			cells: []cell{tcp("y/a", "x/a", 80, true), tcp("x/a", "y/a", 80, true)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			topo := topology.Standard()
			if tc.topo != nil {
				tc.topo(topo)
			}
			m, err := New(topo, policies(t, tc.yaml))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			for _, c := range tc.cells {
				v, err := m.Evaluate(Traffic{From: c.from, To: c.to, Port: c.port, Protocol: c.proto})
				if err != nil {
					t.Fatalf("Evaluate: %v", err)
				}
				if v.Allowed != c.allowed {
					t.Errorf("%s: allowed=%v, want %v (spec: %q)\n%s", v.Traffic, v.Allowed, c.allowed, tc.quote, v.Explain())
				}
				if !v.Defined() {
					t.Errorf("%s: unexpectedly implementation-defined: %v", v.Traffic, v.ImplementationDefined)
				}
			}
		})
	}
}

// TestImplementationDefined checks that what the spec leaves open is
// reported as such, with the model's reading as the verdict.
func TestImplementationDefined(t *testing.T) {
	topo := topology.Standard()
	topo.Namespaces[1].Pods = append(topo.Namespaces[1].Pods, topology.Pod{Name: "host", IP: "10.20.0.1", HostNetwork: true})
	denyAll := policies(t, `
metadata: {name: deny, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}`)
	m, err := New(topo, denyAll)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		quote   string
		traffic Traffic
		allowed bool
		want    []Undefined
	}{
		{"loopback", "a pod cannot block access to itself", Traffic{From: "x/a", To: "x/a", Port: 80}, true, []Undefined{Loopback}},
		{"node to pod", "OR if the traffic source is the pod's local node", Traffic{From: topology.APIServer, To: "x/a", Port: 80}, true, []Undefined{NodeTraffic}},
		{"pod to node", "traffic to and from the node where a Pod is running is always allowed", Traffic{From: "x/a", To: topology.APIServer, Port: 6443}, true, []Undefined{NodeTraffic}},
		{"host network pod", "NetworkPolicy behaviour for hostNetwork pods is undefined", Traffic{From: "y/host", To: "x/a", Port: 80}, false, []Undefined{HostNetwork}},
		{"established", "it is implementation defined as to whether the change will take effect for that existing connection or not", Traffic{From: "y/a", To: "x/a", Port: 80, Established: true}, false, []Undefined{EstablishedConnection}},
		{"defined cell stays defined", "", Traffic{From: "y/a", To: "x/a", Port: 80}, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := m.Evaluate(tc.traffic)
			if err != nil {
				t.Fatal(err)
			}
			if v.Allowed != tc.allowed || !slices.Equal(v.ImplementationDefined, tc.want) {
				t.Errorf("got allowed=%v undefined=%v, want %v %v (spec: %q)", v.Allowed, v.ImplementationDefined, tc.allowed, tc.want, tc.quote)
			}
		})
	}
}

// TestExplain checks that a verdict names the deciding policy, rule, peer
// and port.
func TestExplain(t *testing.T) {
	m, err := New(topology.Standard(), policies(t, `
metadata: {name: allow, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{podSelector: {matchLabels: {pod: c}}}]
  - from: [{namespaceSelector: {matchLabels: {ns: z}}}, {namespaceSelector: {matchLabels: {ns: "y"}}}]
    ports: [{port: 81}, {port: 80}]`))
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.Evaluate(Traffic{From: "y/b", To: "x/a", Port: 80, Protocol: corev1.ProtocolTCP})
	if err != nil {
		t.Fatal(err)
	}
	want := RuleRef{Policy: "x/allow", Direction: networkingv1.PolicyTypeIngress, Rule: 1, Peer: 1, Port: 1}
	if !v.Allowed || len(v.Ingress.AllowedBy) != 1 || v.Ingress.AllowedBy[0] != want {
		t.Fatalf("AllowedBy = %v, want [%v]", v.Ingress.AllowedBy, want)
	}
	if got := v.Explain(); !strings.Contains(got, "allowed by x/allow ingress[1] from[1] ports[1]") || !strings.Contains(got, "egress at y/b: allowed, not isolated") {
		t.Errorf("Explain() =\n%s", got)
	}
	v, _ = m.Evaluate(Traffic{From: "x/b", To: "x/a", Port: 80, Protocol: corev1.ProtocolTCP})
	if got := v.Explain(); v.Allowed || !strings.Contains(got, "denied, isolated by x/allow and no ingress rule allows it") {
		t.Errorf("Explain() =\n%s", got)
	}
	v, _ = m.Evaluate(Traffic{From: "x/c", To: "x/a", Port: 81, Protocol: corev1.ProtocolTCP})
	if want := (RuleRef{Policy: "x/allow", Direction: networkingv1.PolicyTypeIngress, Rule: 0, Peer: 0, Port: -1}); len(v.Ingress.AllowedBy) != 1 || v.Ingress.AllowedBy[0] != want {
		t.Errorf("AllowedBy = %v, want [%v]", v.Ingress.AllowedBy, want)
	}
}

func TestNewReportsEveryBadPolicy(t *testing.T) {
	_, err := New(topology.Standard(), policies(t, `
metadata: {name: bad-selector, namespace: x}
spec:
  podSelector: {matchExpressions: [{key: a, operator: Within}]}
---
metadata: {name: bad-cidr, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/33}}, {}]}]`))
	if err == nil {
		t.Fatal("New accepted invalid policies")
	}
	for _, want := range []string{"x/bad-selector", "spec.podSelector", "x/bad-cidr", "ipBlock.cidr", "peer 1: a peer must set"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestUnknownEndpoint(t *testing.T) {
	m, err := New(topology.Standard(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Evaluate(Traffic{From: "q/a", To: "x/a", Port: 80}); err == nil || !strings.Contains(err.Error(), `unknown source "q/a"`) {
		t.Errorf("Evaluate with an unknown source: %v", err)
	}
}

// TestBareIP checks that any address outside the topology can be asked
// about, and is selected by ipBlock only.
func TestBareIP(t *testing.T) {
	m, err := New(topology.Standard(), policies(t, `
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 192.0.2.0/24, except: [192.0.2.128/25]}}, {namespaceSelector: {}}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]bool{"192.0.2.7": true, "192.0.2.200": false, "198.51.100.1": false} {
		v, err := m.Evaluate(Traffic{From: ip, To: "x/a", Port: 80, Protocol: corev1.ProtocolTCP})
		if err != nil {
			t.Fatal(err)
		}
		if v.Allowed != want {
			t.Errorf("%s -> x/a: allowed=%v, want %v\n%s", ip, v.Allowed, want, v.Explain())
		}
	}
}

// TestNodeTraffic checks traffic between a pod and a named node: its own
// node is always allowed, another node is decided by the rules, and the
// rules do not settle it where an ipBlock meets the node's address or a
// selector meets the host-network pod it is probed from.
func TestNodeTraffic(t *testing.T) {
	topo := topology.Standard()
	topo.Namespaces = append(topo.Namespaces, topology.Namespace{Name: "nodes", Pods: []topology.Pod{
		{Name: "node-1", IP: "10.30.0.1", HostNetwork: true, Node: "n1"},
		{Name: "node-2", IP: "10.30.0.2", HostNetwork: true, Node: "n2"},
	}})
	topo.Externals = append(topo.Externals,
		topology.External{Name: "node-1", IP: "10.30.0.1", Node: true, NodeName: "n1", Prober: "nodes/node-1"},
		topology.External{Name: "node-2", IP: "10.30.0.2", Node: true, NodeName: "n2", Prober: "nodes/node-2"})
	topo.Namespace("x").Pods[0].Node = "n1" // x/a
	if errs := topo.Validate(); len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	const denyX = `
metadata: {name: deny, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}`
	tests := []struct {
		name     string
		policies string
		traffic  Traffic
		allowed  bool
		want     []Undefined
		ownNode  bool
	}{
		{"other node, no policy", "", Traffic{From: "node-2", To: "x/a", Port: 80}, true, nil, false},
		{"own node under a default deny", denyX, Traffic{From: "node-1", To: "x/a", Port: 80}, true, nil, true},
		{"other node under a default deny", denyX, Traffic{From: "node-2", To: "x/a", Port: 80}, false, nil, false},
		{"pod to its own node under a default deny", denyX, Traffic{From: "x/a", To: "node-1", Port: 80}, true, nil, true},
		{"pod to another node under a default deny", denyX, Traffic{From: "x/a", To: "node-2", Port: 80}, false, nil, false},
		{"other node allowed by an ipBlock", `
metadata: {name: nodes, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 10.30.0.0/16}}]}]`, Traffic{From: "node-2", To: "x/a", Port: 80}, true, []Undefined{NodeTraffic}, false},
		{"other node, every pod of every namespace allowed", `
metadata: {name: all-pods, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}}]}]`, Traffic{From: "node-2", To: "x/a", Port: 80}, false, []Undefined{HostNetwork}, false},
		{"other node, the pods of kube-system allowed", `
metadata: {name: kube-system, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]}]`, Traffic{From: "node-2", To: "x/a", Port: 80}, false, []Undefined{HostNetwork}, false},
		{"other node, the pods of the policy's namespace allowed", `
metadata: {name: own-ns, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {}}]}]`, Traffic{From: "node-2", To: "x/a", Port: 80}, false, nil, false},
		{"other node, a rule with no peers", `
metadata: {name: all, namespace: x}
spec:
  podSelector: {}
  ingress: [{}]`, Traffic{From: "node-2", To: "x/a", Port: 80}, true, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ps []networkingv1.NetworkPolicy
			if tc.policies != "" {
				ps = policies(t, tc.policies)
			}
			m, err := New(topo, ps)
			if err != nil {
				t.Fatal(err)
			}
			v, err := m.Evaluate(tc.traffic)
			if err != nil {
				t.Fatal(err)
			}
			if v.Allowed != tc.allowed || !slices.Equal(v.ImplementationDefined, tc.want) || v.OwnNode != tc.ownNode {
				t.Errorf("got allowed=%v undefined=%v own node=%v, want %v %v %v\n%s", v.Allowed, v.ImplementationDefined, v.OwnNode, tc.allowed, tc.want, tc.ownNode, v.Explain())
			}
			if tc.ownNode && !strings.Contains(v.Explain(), "its own node is always allowed") {
				t.Errorf("Explain() does not say why:\n%s", v.Explain())
			}
		})
	}
}
