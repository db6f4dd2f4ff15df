package model

import (
	"fmt"
	"net/netip"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	anpv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netpol-conformance/netpol-conformance/topology"
)

// Reading is a CNI's documented reading of the spec where it departs from
// it: a variant of the model that says what that CNI does instead, for any
// policy set. A CNI's profile names the readings its known deviations come
// from, so a failure counts as a known deviation only when the cluster did
// exactly what the reading predicts, cell for cell; any other departure,
// above all an allowed cell the reading also denies, stays a failure.
//
// The spec's model (New) never applies a reading.
type Reading string

const (
	// IPBlockExcludesPodIPs: ipBlock never matches the IP of a pod the CNI
	// manages, as if every pod IP were in every except list.
	IPBlockExcludesPodIPs Reading = "ipblock-excludes-pod-ips"
	// IPBlockExceptIgnored: except lists are not implemented.
	IPBlockExceptIgnored Reading = "ipblock-except-ignored"
	// EndPortIgnored: endPort is ignored, a range opens its first port.
	EndPortIgnored Reading = "endport-ignored"
	// NamedPortsIgnored: a named port in a rule never matches.
	NamedPortsIgnored Reading = "named-ports-ignored"
	// PolicyWithNamedPortIgnored: a policy that names a port anywhere is
	// rejected whole, so it isolates nothing and allows nothing.
	PolicyWithNamedPortIgnored Reading = "policy-with-named-port-ignored"
	// PolicyTypesFollowRules: a policy applies to every direction it has
	// rules for, whatever its policyTypes say.
	PolicyTypesFollowRules Reading = "policytypes-follow-rules"
	// LabelsFrozen: labels changed on running pods and their namespaces are
	// not seen; policies select by the labels the pods started with.
	LabelsFrozen Reading = "labels-frozen"
	// RulesMatchBothWays: the rules of a policy that applies to both
	// directions are checked on traffic to and from every pod it selects.
	// An egress rule of such a policy also admits, at a destination the
	// policy selects, traffic from a source the policy selects to a peer
	// the rule allows; an ingress rule likewise admits, at a source the
	// policy selects, traffic to a destination it selects from a peer the
	// rule allows. It is kube-router's (its pod firewall chain jumps to a
	// both-directions policy's chain without matching the direction), on
	// one node and across nodes alike.
	RulesMatchBothWays Reading = "rules-match-both-ways"
	// ClusterNamedPortsMatchAllPorts: a rule of a cluster-wide policy
	// that names a port matches every port and protocol. It is Calico's
	// (v3.29 to v3.31 convert an AdminNetworkPolicy namedPort to a match
	// on no protocol and no port).
	ClusterNamedPortsMatchAllPorts Reading = "cluster-named-ports-match-all-ports"
)

// Readings lists every reading once.
var Readings = []Reading{
	IPBlockExcludesPodIPs, IPBlockExceptIgnored, EndPortIgnored, NamedPortsIgnored,
	PolicyWithNamedPortIgnored, PolicyTypesFollowRules, LabelsFrozen, RulesMatchBothWays,
	ClusterNamedPortsMatchAllPorts,
}

// Valid reports whether r is a known reading.
func (r Reading) Valid() bool { return slices.Contains(Readings, r) }

// unmatchablePort is a port name no container has: the port a rule names
// under NamedPortsIgnored.
const unmatchablePort = "netpol-conformance-unsupported"

// NewReading compiles policies as a CNI with the given readings enforces
// them. started is the topology as it was when the pods started (the labels
// LabelsFrozen keeps); nil means topo. Readings are of NetworkPolicy:
// cluster-wide policies are evaluated as the spec says. The inputs are not
// modified.
func NewReading(topo, started *topology.Topology, policies []networkingv1.NetworkPolicy, cluster ClusterPolicies, readings []Reading) (*Model, error) {
	for _, r := range readings {
		if !r.Valid() {
			return nil, fmt.Errorf("unknown reading %q (known: %v)", r, Readings)
		}
	}
	if slices.Contains(readings, LabelsFrozen) && started != nil {
		topo = withLabelsOf(topo, started)
	}
	var podIPs []netip.Addr
	for _, ns := range topo.Namespaces {
		for _, p := range ns.Pods {
			if a, err := netip.ParseAddr(p.IP); err == nil && !p.HostNetwork {
				podIPs = append(podIPs, a)
			}
		}
	}
	var read []networkingv1.NetworkPolicy
	for i := range policies {
		np := policies[i].DeepCopy()
		if slices.Contains(readings, PolicyWithNamedPortIgnored) && namesAPort(&np.Spec) {
			continue
		}
		if slices.Contains(readings, PolicyTypesFollowRules) {
			ingress, egress := policyTypes(&np.Spec)
			ingress = ingress || len(np.Spec.Ingress) > 0
			egress = egress || len(np.Spec.Egress) > 0
			np.Spec.PolicyTypes = nil
			if ingress {
				np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
			}
			if egress {
				np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
			}
		}
		for r := range np.Spec.Ingress {
			readRule(np.Spec.Ingress[r].From, np.Spec.Ingress[r].Ports, readings, podIPs)
		}
		for r := range np.Spec.Egress {
			readRule(np.Spec.Egress[r].To, np.Spec.Egress[r].Ports, readings, podIPs)
		}
		read = append(read, *np)
	}
	if slices.Contains(readings, ClusterNamedPortsMatchAllPorts) {
		cluster = namedPortsMatchAll(cluster)
	}
	m, err := NewTiered(topo, read, cluster)
	if err != nil {
		return nil, err
	}
	m.rulesMatchBothWays = slices.Contains(readings, RulesMatchBothWays)
	return m, nil
}

// readRule rewrites one rule's peers and ports (in place, on a copy) as the
// readings say.
func readRule(peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort, readings []Reading, podIPs []netip.Addr) {
	for i := range peers {
		b := peers[i].IPBlock
		if b == nil {
			continue
		}
		if slices.Contains(readings, IPBlockExceptIgnored) {
			b.Except = nil
		}
		if slices.Contains(readings, IPBlockExcludesPodIPs) {
			cidr, err := netip.ParsePrefix(b.CIDR)
			if err != nil {
				continue // New reports it
			}
			for _, a := range podIPs {
				if cidr.Contains(a) {
					b.Except = append(b.Except, netip.PrefixFrom(a, a.BitLen()).String())
				}
			}
		}
	}
	for i := range ports {
		if slices.Contains(readings, EndPortIgnored) {
			ports[i].EndPort = nil
		}
		if slices.Contains(readings, NamedPortsIgnored) && ports[i].Port != nil && ports[i].Port.Type == intstr.String {
			unmatchable := intstr.FromString(unmatchablePort)
			ports[i].Port = &unmatchable
		}
	}
}

// withLabelsOf is topo with the labels its pods and namespaces had in
// started (where they were there).
func withLabelsOf(topo, started *topology.Topology) *topology.Topology {
	t := topo.DeepCopy()
	for i := range t.Namespaces {
		ns := &t.Namespaces[i]
		was := started.Namespace(ns.Name)
		if was == nil {
			continue
		}
		ns.Labels = was.Labels
		for j := range ns.Pods {
			if p := started.Pod(topology.PodKey(ns.Name, ns.Pods[j].Name)); p != nil {
				ns.Pods[j].Labels = p.Labels
			}
		}
	}
	return t
}

func namesAPort(spec *networkingv1.NetworkPolicySpec) bool {
	named := func(ports []networkingv1.NetworkPolicyPort) bool {
		for _, p := range ports {
			if p.Port != nil && p.Port.Type == intstr.String {
				return true
			}
		}
		return false
	}
	for _, r := range spec.Ingress {
		if named(r.Ports) {
			return true
		}
	}
	for _, r := range spec.Egress {
		if named(r.Ports) {
			return true
		}
	}
	return false
}

// namedPortsMatchAll returns a copy of cluster in which every rule that
// names a port matches every port.
func namedPortsMatchAll(cluster ClusterPolicies) ClusterPolicies {
	out := cluster.DeepCopy()
	anp := func(ports **[]anpv1alpha1.AdminNetworkPolicyPort) {
		if *ports != nil && slices.ContainsFunc(**ports, func(p anpv1alpha1.AdminNetworkPolicyPort) bool { return p.NamedPort != nil }) {
			*ports = nil
		}
	}
	cnp := func(protocols *[]cnpv1beta1.ClusterNetworkPolicyProtocol) {
		if slices.ContainsFunc(*protocols, func(p cnpv1beta1.ClusterNetworkPolicyProtocol) bool { return p.DestinationNamedPort != "" }) {
			*protocols = nil
		}
	}
	for i := range out.AdminNetworkPolicies {
		s := &out.AdminNetworkPolicies[i].Spec
		for j := range s.Ingress {
			anp(&s.Ingress[j].Ports)
		}
		for j := range s.Egress {
			anp(&s.Egress[j].Ports)
		}
	}
	for i := range out.BaselineAdminNetworkPolicies {
		s := &out.BaselineAdminNetworkPolicies[i].Spec
		for j := range s.Ingress {
			anp(&s.Ingress[j].Ports)
		}
		for j := range s.Egress {
			anp(&s.Egress[j].Ports)
		}
	}
	for i := range out.ClusterNetworkPolicies {
		s := &out.ClusterNetworkPolicies[i].Spec
		for j := range s.Ingress {
			cnp(&s.Ingress[j].Protocols)
		}
		for j := range s.Egress {
			cnp(&s.Egress[j].Protocols)
		}
	}
	return out
}
