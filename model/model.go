// Package model is the reference model of networking.k8s.io/v1
// NetworkPolicy: given a topology and a set of policies it decides, without
// any cluster, whether a connection is allowed, and says which policies and
// rules decided it. It imports API types only, never client-go, so it runs
// in microseconds in unit tests and in the offline commands.
//
// Each branch quotes the sentence of the API reference (k8s.io/api
// networking/v1 types.go) or of the NetworkPolicy concept page it
// implements. Behaviours the spec leaves open are returned as Undefined, not
// as a verdict to be enforced.
package model

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netpol-conformance/netpol-conformance/topology"
)

// Model evaluates traffic against one set of policies on one topology.
// It is immutable after New and safe for concurrent use.
type Model struct {
	endpoints map[string]*endpoint
	policies  []*policy
	// admin and baseline are the cluster-wide tiers, each sorted by
	// priority.
	admin, baseline []*tierPolicy
	// nodeLabels are the labels of every known node (an external with a
	// NodeName), by address: what a nodes peer selects.
	nodeLabels map[netip.Addr]labels.Set
	// rulesMatchBothWays is a CNI's reading (see Reading), never the
	// spec's: set only by NewReading.
	rulesMatchBothWays bool
}

type endpoint struct {
	topology.Endpoint
	podLabels labels.Set // nil for externals
	nsLabels  labels.Set // nil for externals
	// ingress and egress hold the policies that select this pod and apply
	// to that direction, in policy order.
	ingress, egress []*policy
}

type policy struct {
	key       string // "ns/name"
	namespace string
	// selector selects the pods of namespace it applies to, for the
	// directions it is typed for.
	selector                  labels.Selector
	ingressTyped, egressTyped bool
	ingress                   []rule
	egress                    []rule
}

type rule struct {
	peers []peer // empty: all peers
	ports []networkingv1.NetworkPolicyPort
}

type peer struct {
	// pods and namespaces are nil when the peer does not set them.
	pods, namespaces labels.Selector
	cidr             netip.Prefix
	except           []netip.Prefix
	isIPBlock        bool
}

// New compiles policies against a topology. It fails, listing every
// problem, when a policy has a selector or CIDR that cannot be parsed, or the
// topology has an address that cannot.
func New(topo *topology.Topology, policies []networkingv1.NetworkPolicy) (*Model, error) {
	return NewTiered(topo, policies, ClusterPolicies{})
}

// NewTiered is New with cluster-wide policies too: the Admin tier, then
// the NetworkPolicies, then the Baseline tier.
func NewTiered(topo *topology.Topology, policies []networkingv1.NetworkPolicy, cluster ClusterPolicies) (*Model, error) {
	eps, err := topo.Endpoints()
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	m := &Model{endpoints: make(map[string]*endpoint, len(eps)), nodeLabels: map[netip.Addr]labels.Set{}}
	for i := range eps {
		e := &endpoint{Endpoint: eps[i]}
		if namedNode(e) {
			m.nodeLabels[e.Addr] = labels.Set(e.External.Labels)
		}
		if e.IsPod() {
			e.podLabels = labels.Set(e.Pod.Labels)
			e.nsLabels = labels.Set(e.Namespace.NamespaceLabels())
		}
		m.endpoints[e.Key] = e
	}

	var errs []error
	for i := range policies {
		p, err := compile(&policies[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("policy %s/%s: %w", policies[i].Namespace, policies[i].Name, err))
			continue
		}
		m.policies = append(m.policies, p)
		if err := m.attach(p, &policies[i]); err != nil {
			errs = append(errs, fmt.Errorf("policy %s: %w", p.key, err))
		}
	}
	errs = append(errs, m.compileClusterPolicies(cluster))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// attach records p on every pod it selects, for each direction it applies
// to.
func (m *Model) attach(p *policy, np *networkingv1.NetworkPolicy) error {
	// "podSelector selects the pods to which this NetworkPolicy object
	// applies. ... An empty selector matches all pods in the policy's
	// namespace."
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		return fmt.Errorf("spec.podSelector: %w", err)
	}
	ingress, egress := policyTypes(&np.Spec)
	p.selector, p.ingressTyped, p.egressTyped = sel, ingress, egress
	for _, e := range m.endpoints {
		if !e.IsPod() || e.Namespace.Name != p.namespace || !sel.Matches(e.podLabels) {
			continue
		}
		if ingress {
			e.ingress = append(e.ingress, p)
		}
		if egress {
			e.egress = append(e.egress, p)
		}
	}
	return nil
}

// policyTypes returns the directions a policy applies to.
func policyTypes(spec *networkingv1.NetworkPolicySpec) (ingress, egress bool) {
	// "If this field is not specified, it will default based on the
	// existence of ingress or egress rules; policies that contain an egress
	// section are assumed to affect egress, and all policies (whether or not
	// they contain an ingress section) are assumed to affect ingress."
	if len(spec.PolicyTypes) == 0 {
		return true, len(spec.Egress) > 0
	}
	for _, t := range spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			ingress = true
		case networkingv1.PolicyTypeEgress:
			egress = true
		}
	}
	return ingress, egress
}

func compile(np *networkingv1.NetworkPolicy) (*policy, error) {
	p := &policy{key: topology.PodKey(np.Namespace, np.Name), namespace: np.Namespace}
	var errs []error
	for i, r := range np.Spec.Ingress {
		cr, err := compileRule(r.From, r.Ports)
		if err != nil {
			errs = append(errs, fmt.Errorf("spec.ingress[%d]: %w", i, err))
		}
		p.ingress = append(p.ingress, cr)
	}
	for i, r := range np.Spec.Egress {
		cr, err := compileRule(r.To, r.Ports)
		if err != nil {
			errs = append(errs, fmt.Errorf("spec.egress[%d]: %w", i, err))
		}
		p.egress = append(p.egress, cr)
	}
	return p, errors.Join(errs...)
}

func compileRule(peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) (rule, error) {
	r := rule{ports: ports}
	var errs []error
	for i := range peers {
		p, err := compilePeer(&peers[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("peer %d: %w", i, err))
		}
		r.peers = append(r.peers, p)
	}
	return r, errors.Join(errs...)
}

func compilePeer(np *networkingv1.NetworkPolicyPeer) (peer, error) {
	var p peer
	if np.IPBlock != nil {
		// "ipBlock defines policy on a particular IPBlock. If this field is
		// set then neither of the other fields can be."
		if np.PodSelector != nil || np.NamespaceSelector != nil {
			return p, errors.New("ipBlock cannot be combined with podSelector or namespaceSelector")
		}
		var err error
		p.isIPBlock = true
		if p.cidr, err = netip.ParsePrefix(np.IPBlock.CIDR); err != nil {
			return p, fmt.Errorf("ipBlock.cidr: %w", err)
		}
		p.cidr = p.cidr.Masked()
		for _, s := range np.IPBlock.Except {
			ex, err := netip.ParsePrefix(s)
			if err != nil {
				return p, fmt.Errorf("ipBlock.except: %w", err)
			}
			p.except = append(p.except, ex.Masked())
		}
		return p, nil
	}
	if np.PodSelector == nil && np.NamespaceSelector == nil {
		return p, errors.New("a peer must set podSelector, namespaceSelector or ipBlock")
	}
	var err error
	if np.PodSelector != nil {
		if p.pods, err = metav1.LabelSelectorAsSelector(np.PodSelector); err != nil {
			return p, fmt.Errorf("podSelector: %w", err)
		}
	}
	if np.NamespaceSelector != nil {
		if p.namespaces, err = metav1.LabelSelectorAsSelector(np.NamespaceSelector); err != nil {
			return p, fmt.Errorf("namespaceSelector: %w", err)
		}
	}
	return p, nil
}

// Evaluate decides one connection. From and To name endpoints of the
// topology, or are bare IP addresses of endpoints outside it. It fails only
// when an endpoint is neither.
func (m *Model) Evaluate(t Traffic) (Verdict, error) {
	from, ok := m.lookup(t.From)
	if !ok {
		return Verdict{}, fmt.Errorf("unknown source %q: want ns/pod, an external's name, or an IP address", t.From)
	}
	to, ok := m.lookup(t.To)
	if !ok {
		return Verdict{}, fmt.Errorf("unknown destination %q: want ns/pod, an external's name, or an IP address", t.To)
	}
	if t.Protocol == "" {
		t.Protocol = corev1.ProtocolTCP
	}
	v := Verdict{
		Traffic: t,
		Egress:  m.side(networkingv1.PolicyTypeEgress, from, to, t),
		Ingress: m.side(networkingv1.PolicyTypeIngress, to, from, t),
	}
	// "For a connection from a source pod to a destination pod to be
	// allowed, both the egress policy on the source pod and the ingress
	// policy on the destination pod need to allow the connection. If either
	// side does not allow the connection, it will not happen."
	v.Allowed = v.Egress.Allowed && v.Ingress.Allowed

	switch {
	case from.IsPod() && from == to:
		// "Other pods that are allowed (exception: a pod cannot block
		// access to itself)".
		v.Allowed = true
		v.ImplementationDefined = append(v.ImplementationDefined, Loopback)
	case v.Egress.clusterWide() || v.Ingress.clusterWide():
		// A cluster-wide tier decided a side: nodes and networks are
		// peers it may name ("Nodes defines a way to select a set of
		// nodes in the cluster"), and NetworkPolicy's exception for the
		// pod's own node is the NetworkPolicy tier's.
	case namedNode(from) && to.IsPod() && to.Pod.Node != "" || namedNode(to) && from.IsPod() && from.Pod.Node != "":
		m.nodeAndPod(&v, from, to)
	case isNode(from) || isNode(to):
		// "Traffic is allowed to a pod if ... OR if the traffic source is
		// the pod's local node"; "traffic to and from the node where a Pod
		// is running is always allowed, regardless of the IP address of the
		// Pod or the node".
		v.Allowed = true
		v.ImplementationDefined = append(v.ImplementationDefined, NodeTraffic)
	}
	if isHostNetwork(from) || isHostNetwork(to) {
		v.ImplementationDefined = append(v.ImplementationDefined, HostNetwork)
	}
	if t.Established {
		v.ImplementationDefined = append(v.ImplementationDefined, EstablishedConnection)
	}
	if v.Egress.PriorityTie || v.Ingress.PriorityTie {
		v.ImplementationDefined = append(v.ImplementationDefined, PriorityTie)
	}
	return v, nil
}

// lookup resolves an endpoint name, or an IP address outside the topology.
func (m *Model) lookup(key string) (*endpoint, bool) {
	if e, ok := m.endpoints[key]; ok {
		return e, true
	}
	addr, err := netip.ParseAddr(key)
	if err != nil {
		return nil, false
	}
	return &endpoint{Endpoint: topology.Endpoint{Key: key, Addr: addr, External: &topology.External{Name: key, IP: key}}}, true
}

// nodeAndPod decides traffic between a named node and a pod whose node is
// known, v holding the rules' verdict.
func (m *Model) nodeAndPod(v *Verdict, from, to *endpoint) {
	node, pod, side := from, to, &v.Ingress
	if namedNode(to) {
		node, pod, side = to, from, &v.Egress
	}
	if pod.Pod.Node == node.External.NodeName {
		// API reference (NetworkPolicySpec.ingress): "Traffic is allowed
		// to a pod if there are no NetworkPolicies selecting the pod ...
		// OR if the traffic source is the pod's local node"; concept
		// docs: "traffic to and from the node where a Pod is running is
		// always allowed, regardless of the IP address of the Pod or the
		// node".
		v.Allowed, v.OwnNode = true, true
		return
	}
	// Another node is decided by the rules, like any address outside the
	// pod network: selectors never select it, so only a rule with no
	// peers or an ipBlock can allow it. Which source address another
	// node's traffic carries (its own, a tunnel's, a gateway's) is the
	// implementation's choice, so an ipBlock of the policies does not
	// settle the cell.
	applied := pod.ingress
	if side.Direction == networkingv1.PolicyTypeEgress {
		applied = pod.egress
	}
	if hasPeer(applied, side.Direction, func(p peer) bool { return p.isIPBlock }) {
		v.ImplementationDefined = append(v.ImplementationDefined, NodeTraffic)
	}
	// Every host-network pod of the node has the node's address: the
	// node's own prober, and whatever runs there in any namespace (a
	// proxy, a CNI agent). An implementation that maps the address back
	// to such a pod matches it by a peer that selects namespaces; whether
	// it may is undefined ("NetworkPolicy behaviour for hostNetwork pods
	// is undefined"). (A peer without a namespaceSelector selects only
	// pods of the policy's own namespace: in the suite's, no host-network
	// pod but where the topology says so, which the prober check covers.)
	switch {
	case hasPeer(applied, side.Direction, func(p peer) bool { return p.namespaces != nil }):
		v.ImplementationDefined = append(v.ImplementationDefined, HostNetwork)
	case node.External.Prober != "":
		t := v.Traffic
		if node == from {
			t.From = node.External.Prober
		} else {
			t.To = node.External.Prober
		}
		if asPod, err := m.Evaluate(t); err == nil && asPod.Allowed != v.Allowed {
			v.ImplementationDefined = append(v.ImplementationDefined, HostNetwork)
		}
	}
}

// hasPeer reports whether a rule of policies for dir has a peer that is.
func hasPeer(policies []*policy, dir networkingv1.PolicyType, is func(peer) bool) bool {
	for _, p := range policies {
		rules := p.ingress
		if dir == networkingv1.PolicyTypeEgress {
			rules = p.egress
		}
		for _, r := range rules {
			if slices.ContainsFunc(r.peers, is) {
				return true
			}
		}
	}
	return false
}

// namedNode reports whether e is the address of one known node.
func namedNode(e *endpoint) bool { return isNode(e) && e.External.NodeName != "" }

func isNode(e *endpoint) bool        { return e.External != nil && e.External.Node }
func isHostNetwork(e *endpoint) bool { return e.Pod != nil && e.Pod.HostNetwork }

// side decides one direction at subject; peer is the other end. For egress
// the subject is the source, for ingress the destination.
func (m *Model) side(dir networkingv1.PolicyType, subject, other *endpoint, t Traffic) Side {
	s := Side{Direction: dir, Allowed: true}
	if !subject.IsPod() {
		return s
	}
	s.Subject = subject.Key
	// The destination's container ports resolve named ports: the subject
	// for ingress, the peer for egress.
	dst := subject
	applied := subject.ingress
	if dir == networkingv1.PolicyTypeEgress {
		dst, applied = other, subject.egress
	}
	// "By default, a pod is non-isolated for egress; all outbound
	// connections are allowed. A pod is isolated for egress if there is any
	// NetworkPolicy that both selects the pod and has "Egress" in its
	// policyTypes" (and likewise for ingress).
	if len(applied) == 0 {
		return m.tiers(s, subject, other, dst, t)
	}
	s.Allowed = false
	for _, p := range applied {
		s.Isolating = append(s.Isolating, p.key)
		rules := p.ingress
		if dir == networkingv1.PolicyTypeEgress {
			rules = p.egress
		}
		// "Network policies do not conflict; they are additive. If any
		// policy or policies apply to a given pod for a given direction, the
		// connections allowed in that direction from that pod is the union
		// of what the applicable policies allow."
		s.AllowedBy = append(s.AllowedBy, p.allowing(rules, dir, other, dst, t)...)
		if m.rulesMatchBothWays {
			s.AllowedBy = append(s.AllowedBy, p.otherWay(dir, subject, other, dst, t)...)
		}
	}
	s.Allowed = len(s.AllowedBy) > 0
	return m.tiers(s, subject, other, dst, t)
}

// tiers puts the NetworkPolicy tier's decision s between the cluster-wide
// tiers, when there are any.
func (m *Model) tiers(s Side, subject, other, dst *endpoint, t Traffic) Side {
	if len(m.admin) == 0 && len(m.baseline) == 0 {
		if s.Isolated() {
			s.DecidedBy = TierNetworkPolicy
		}
		return s
	}
	return m.tierSide(s, subject, other, dst, t)
}

// otherWay is the RulesMatchBothWays reading at subject: the rules of p
// for the other direction, when p applies to both and selects both ends.
// Either way the rule's peers are matched against subject, the end whose
// chain reads them (ingress at a destination reads p's egress rules,
// `-s <p's pods> -d <peers>`; egress at a source reads its ingress rules,
// `-s <peers> -d <p's pods>`); named ports resolve at dst, the
// destination, as always.
func (p *policy) otherWay(dir networkingv1.PolicyType, subject, other, dst *endpoint, t Traffic) []RuleRef {
	if !p.ingressTyped || !p.egressTyped || !other.IsPod() || other.Namespace.Name != p.namespace || !p.selector.Matches(other.podLabels) {
		return nil
	}
	if dir == networkingv1.PolicyTypeEgress {
		return p.allowing(p.ingress, networkingv1.PolicyTypeIngress, subject, dst, t)
	}
	return p.allowing(p.egress, networkingv1.PolicyTypeEgress, subject, dst, t)
}

// allowing are the rules of p (its rules for direction dir) that allow
// the traffic t: peer matches one of a rule's peers, and the port, resolved
// at dst, one of its ports.
func (p *policy) allowing(rules []rule, dir networkingv1.PolicyType, peer, dst *endpoint, t Traffic) []RuleRef {
	var refs []RuleRef
	for ri, r := range rules {
		peerIdx, ok := r.matchPeer(p.namespace, peer)
		if !ok {
			continue
		}
		portIdx, ok := matchPort(r.ports, dst, t.Port, t.Protocol)
		if !ok {
			continue
		}
		refs = append(refs, RuleRef{Policy: p.key, Direction: dir, Rule: ri, Peer: peerIdx, Port: portIdx})
	}
	return refs
}

// matchPeer returns the index of the first peer that selects e, or -1 when
// the rule lists no peers.
func (r rule) matchPeer(policyNamespace string, e *endpoint) (int, bool) {
	// "If this field is empty or missing, this rule matches all sources
	// (traffic not restricted by source). If this field is present and
	// contains at least one item, this rule allows traffic only if the
	// traffic matches at least one item in the from list."
	if len(r.peers) == 0 {
		return -1, true
	}
	for i, p := range r.peers {
		if p.matches(policyNamespace, e) {
			return i, true
		}
	}
	return 0, false
}

func (p peer) matches(policyNamespace string, e *endpoint) bool {
	if p.isIPBlock {
		// An ipBlock matches any address in cidr outside every except
		// range, pod IPs included: "IPBlock describes a particular CIDR
		// ... The except entry describes CIDRs that should not be
		// included within this rule."
		if !p.cidr.Contains(e.Addr) {
			return false
		}
		for _, ex := range p.except {
			if ex.Contains(e.Addr) {
				return false
			}
		}
		return true
	}
	// Selectors only ever select pods.
	if !e.IsPod() {
		return false
	}
	if p.namespaces == nil {
		// "Otherwise it selects the pods matching podSelector in the
		// policy's own namespace."
		return e.Namespace.Name == policyNamespace && p.pods.Matches(e.podLabels)
	}
	// "namespaceSelector ... if present but empty, it selects all
	// namespaces. If podSelector is also set, then the NetworkPolicyPeer as
	// a whole selects the pods matching podSelector in the namespaces
	// selected by namespaceSelector. Otherwise it selects all pods in the
	// namespaces selected by namespaceSelector."
	if !p.namespaces.Matches(e.nsLabels) {
		return false
	}
	return p.pods == nil || p.pods.Matches(e.podLabels)
}

// matchPort returns the index of the first port entry that matches traffic
// to dst on port/protocol, or -1 when the rule lists no ports.
func matchPort(ports []networkingv1.NetworkPolicyPort, dst *endpoint, port int32, protocol corev1.Protocol) (int, bool) {
	// "If this field is empty or missing, this rule matches all ports
	// (traffic not restricted by port). If this field is present and
	// contains at least one item, then this rule allows traffic only if the
	// traffic matches at least one port in the list."
	if len(ports) == 0 {
		return -1, true
	}
	for i, p := range ports {
		if portMatches(p, dst, port, protocol) {
			return i, true
		}
	}
	return 0, false
}

func portMatches(p networkingv1.NetworkPolicyPort, dst *endpoint, port int32, protocol corev1.Protocol) bool {
	// "protocol represents the protocol (TCP, UDP, or SCTP) which traffic
	// must match. If not specified, this field defaults to TCP."
	want := corev1.ProtocolTCP
	if p.Protocol != nil {
		want = *p.Protocol
	}
	if want != protocol {
		return false
	}
	// "If this field is not provided, this matches all port names and
	// numbers. If present, only traffic on the specified protocol AND port
	// will be matched."
	if p.Port == nil {
		return true
	}
	if p.Port.Type == intstr.String {
		return namedPortMatches(p.Port.StrVal, dst, port, protocol)
	}
	// "endPort indicates that the range of ports from port to endPort if
	// set, inclusive, should be allowed by the policy."
	if p.EndPort != nil {
		return p.Port.IntVal <= port && port <= *p.EndPort
	}
	return p.Port.IntVal == port
}

// namedPortMatches resolves a named port on the destination pod's
// containers: "This can either be a numerical or named port on a pod." The
// name must resolve to the probed number with the rule's protocol; an
// endpoint that is not a pod has no named ports.
func namedPortMatches(name string, dst *endpoint, port int32, protocol corev1.Protocol) bool {
	if !dst.IsPod() {
		return false
	}
	for _, cp := range dst.Pod.Ports {
		cpProto := cp.Protocol
		if cpProto == "" {
			cpProto = corev1.ProtocolTCP
		}
		if cp.Name == name && cp.ContainerPort == port && cpProto == protocol {
			return true
		}
	}
	return false
}
