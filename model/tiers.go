package model

// This file is the model of the cluster-wide policies of SIG Network's
// network-policy-api (sigs.k8s.io/network-policy-api v0.3.0), both API
// generations: AdminNetworkPolicy and BaselineAdminNetworkPolicy
// (policy.networking.k8s.io/v1alpha1) and ClusterNetworkPolicy
// (v1alpha2, and v1beta1 whose schema is the same). Both compile to one
// form and are evaluated by one function. Quotes are from the types'
// documentation in that module.

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	anpv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnpv1alpha2 "sigs.k8s.io/network-policy-api/apis/v1alpha2"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"
)

// ClusterPolicies are the cluster-wide policies in force, of either API
// generation. A cluster normally serves one; the model orders both in one
// Admin and one Baseline tier when given both.
type ClusterPolicies struct {
	AdminNetworkPolicies         []anpv1alpha1.AdminNetworkPolicy
	BaselineAdminNetworkPolicies []anpv1alpha1.BaselineAdminNetworkPolicy
	// ClusterNetworkPolicies hold v1beta1 objects; v1alpha2 ones are
	// converted by ClusterNetworkPolicyFromV1alpha2.
	ClusterNetworkPolicies []cnpv1beta1.ClusterNetworkPolicy
}

// Empty reports whether no cluster-wide policy is in force.
func (c ClusterPolicies) Empty() bool {
	return len(c.AdminNetworkPolicies) == 0 && len(c.BaselineAdminNetworkPolicies) == 0 && len(c.ClusterNetworkPolicies) == 0
}

// DeepCopy copies every policy.
func (c ClusterPolicies) DeepCopy() ClusterPolicies {
	var out ClusterPolicies
	for i := range c.AdminNetworkPolicies {
		out.AdminNetworkPolicies = append(out.AdminNetworkPolicies, *c.AdminNetworkPolicies[i].DeepCopy())
	}
	for i := range c.BaselineAdminNetworkPolicies {
		out.BaselineAdminNetworkPolicies = append(out.BaselineAdminNetworkPolicies, *c.BaselineAdminNetworkPolicies[i].DeepCopy())
	}
	for i := range c.ClusterNetworkPolicies {
		out.ClusterNetworkPolicies = append(out.ClusterNetworkPolicies, *c.ClusterNetworkPolicies[i].DeepCopy())
	}
	return out
}

// ClusterNetworkPolicyFromV1alpha2 converts a v1alpha2 ClusterNetworkPolicy
// to v1beta1. In network-policy-api v0.3.0 the two versions have the same
// schema (v1beta1 is only marked the storage version), so the conversion
// is the identity on the JSON form, which is what the API server's CRD
// conversion (strategy None) does too.
func ClusterNetworkPolicyFromV1alpha2(in *cnpv1alpha2.ClusterNetworkPolicy) (cnpv1beta1.ClusterNetworkPolicy, error) {
	var out cnpv1beta1.ClusterNetworkPolicy
	data, err := json.Marshal(in)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return out, err
	}
	out.APIVersion = cnpv1beta1.GroupVersion.String()
	return out, nil
}

// Tier is one of the levels policies are evaluated in.
type Tier string

const (
	// "The Admin tier takes precedence over all other policies."
	TierAdmin Tier = "Admin"
	// "NetworkPolicy tier is the tier for the namespaced v1.NetworkPolicy."
	TierNetworkPolicy Tier = "NetworkPolicy"
	// "Baseline tier is a cluster-wide policy that can be overridden by
	// the v1.NetworkPolicy."
	TierBaseline Tier = "Baseline"
)

// Action is what a cluster-wide rule does to the traffic it matches.
// AdminNetworkPolicy's and BaselineAdminNetworkPolicy's "Allow" is
// ClusterNetworkPolicy's "Accept".
type Action string

const (
	ActionAccept Action = "Accept"
	ActionDeny   Action = "Deny"
	ActionPass   Action = "Pass"
)

// Kinds of cluster-wide policy as a decision names them: "cnp/<name>",
// as kubectl's short names do.
const (
	ShortAdminNetworkPolicy         = "anp"
	ShortBaselineAdminNetworkPolicy = "banp"
	ShortClusterNetworkPolicy       = "cnp"
)

// TierDecision is one cluster-wide rule that matched the traffic, in the
// order evaluation met them.
type TierDecision struct {
	Tier Tier
	// Policy is "anp/<name>", "banp/<name>" or "cnp/<name>".
	Policy string
	// Priority is the policy's spec.priority; a BaselineAdminNetworkPolicy
	// has none (HasPriority false).
	Priority    int32
	HasPriority bool
	Direction   networkingv1.PolicyType
	// Rule indexes spec.ingress or spec.egress; RuleName is its name.
	Rule     int
	RuleName string
	Action   Action
}

func (d TierDecision) String() string {
	dir := "ingress"
	if d.Direction == networkingv1.PolicyTypeEgress {
		dir = "egress"
	}
	s := fmt.Sprintf("[%s %s", d.Tier, d.Policy)
	if d.HasPriority {
		s += fmt.Sprintf(" prio %d", d.Priority)
	}
	s += fmt.Sprintf(" %s[%d]", dir, d.Rule)
	if d.RuleName != "" {
		s += fmt.Sprintf(" %q", d.RuleName)
	}
	return s + "] " + string(d.Action)
}

// tierPolicy is a compiled cluster-wide policy of either generation.
type tierPolicy struct {
	tier        Tier
	ref         string
	priority    int32
	hasPriority bool
	// The subject: namespaces, or pods (subjectPodNS AND subjectPods).
	subjectNamespaces, subjectPodNS, subjectPods labels.Selector
	ingress, egress                              []tierRule
}

type tierRule struct {
	name   string
	action Action
	peers  []tierPeer
	// ports empty: "If Ports is not set then the rule does not filter
	// traffic via port"; "If unspecified, protocol-specific attributes
	// will not be used to match traffic."
	ports []tierPort
}

// tierPeer is one peer; exactly one of its matchers is set.
type tierPeer struct {
	namespaces               labels.Selector // a namespaces peer
	podNamespaces, pods      labels.Selector // a pods peer
	nodes                    labels.Selector
	networks                 []netip.Prefix
	isNodes, isNetworks, any bool
}

// tierPort matches a protocol and a port number, range or name.
type tierPort struct {
	protocol corev1.Protocol // empty for a named port: the container port's
	// start..end inclusive; both zero: every port of protocol.
	start, end int32
	name       string
}

// selectsSubject reports whether p applies to pod e: "Note that
// host-networked pods are not included in subject selection."
func (p *tierPolicy) selectsSubject(e *endpoint) bool {
	if !e.IsPod() || e.Pod.HostNetwork {
		return false
	}
	if p.subjectNamespaces != nil {
		return p.subjectNamespaces.Matches(e.nsLabels)
	}
	return p.subjectPodNS.Matches(e.nsLabels) && p.subjectPods.Matches(e.podLabels)
}

func (r tierRule) matchesPeer(e *endpoint, nodes map[netip.Addr]labels.Set) bool {
	return slices.ContainsFunc(r.peers, func(p tierPeer) bool { return p.matches(e, nodes) })
}

// matches reports whether the peer selects e; nodes are the labels of
// every known node by address.
func (p tierPeer) matches(e *endpoint, nodes map[netip.Addr]labels.Set) bool {
	switch {
	case p.any:
		// A peer with no field set: "If an implementation sees no
		// fields are set then it can infer that the deployed CRD is of
		// an incompatible version with an unknown field. In that case
		// it should fail closed." Validation rejects it before here.
		return false
	case p.isNetworks:
		// "note that cluster-internal traffic will be checked against
		// the rule as well": a network matches pods and nodes by IP.
		return slices.ContainsFunc(p.networks, func(n netip.Prefix) bool { return n.Contains(e.Addr) })
	case p.isNodes:
		// "It selects the nodeIPs as the peer type by matching on the
		// IPs present in the node.Status.Addresses field of the node":
		// a node's address, which its host-network pods share. Only
		// the addresses of known nodes: an address merely on a node
		// (the API server's, where nodes are not known) is not one.
		ls, ok := nodes[e.Addr]
		return ok && p.nodes.Matches(ls)
	}
	// "Note that host-networked pods are not included in this type of
	// peer."
	if !e.IsPod() || e.Pod.HostNetwork {
		return false
	}
	if p.namespaces != nil {
		return p.namespaces.Matches(e.nsLabels)
	}
	return p.podNamespaces.Matches(e.nsLabels) && p.pods.Matches(e.podLabels)
}

func (r tierRule) matchesPort(dst *endpoint, port int32, protocol corev1.Protocol) bool {
	if len(r.ports) == 0 {
		return true
	}
	return slices.ContainsFunc(r.ports, func(p tierPort) bool {
		if p.name != "" {
			// "NamedPort selects a port on a pod(s) based on name";
			// "DestinationNamedPort selects a destination port on a pod
			// based on the ContainerPort name".
			return namedPortMatches(p.name, dst, port, protocol)
		}
		if p.protocol != protocol {
			return false
		}
		return p.start == 0 && p.end == 0 || p.start <= port && port <= p.end
	})
}

// tierSide decides one direction at subject through every tier; s holds
// the NetworkPolicy tier's decision at that side, as side computes it.
func (m *Model) tierSide(s Side, subject, other, dst *endpoint, t Traffic) Side {
	// "Policy tiers are evaluated in the following order: Admin tier,
	// NetworkPolicy tier, Baseline tier."
	admin := m.tierMatches(m.admin, s.Direction, subject, other, dst, t)
	baseline := m.tierMatches(m.baseline, s.Direction, subject, other, dst, t)
	out := m.decideTiers(s, admin, baseline)
	out.PriorityTie = m.priorityTie(s, admin, baseline)
	// Per cell: the two tiers are walked in place, not copied into one.
	for _, tier := range [][]*tierPolicy{m.admin, m.baseline} {
		for _, p := range tier {
			rules := p.ingress
			if s.Direction == networkingv1.PolicyTypeEgress {
				rules = p.egress
			}
			if len(rules) > 0 && p.selectsSubject(subject) {
				out.SelectedBy = append(out.SelectedBy, p.ref)
			}
		}
	}
	return out
}

// tierMatch is the first matching rule of each policy of one priority.
type tierMatch []TierDecision

// tierMatches returns, for policies (sorted by priority), the first
// matching rule of every policy that selects subject and has one, grouped
// by priority, lowest value first.
func (m *Model) tierMatches(policies []*tierPolicy, dir networkingv1.PolicyType, subject, other, dst *endpoint, t Traffic) []tierMatch {
	var groups []tierMatch
	for _, p := range policies {
		if !p.selectsSubject(subject) {
			continue
		}
		rules := p.ingress
		if dir == networkingv1.PolicyTypeEgress {
			rules = p.egress
		}
		// "The relative precedence of ingress rules within a single CNP
		// object (all of which share the priority) will be determined by
		// the order in which the rule is written."
		for i, r := range rules {
			if !r.matchesPeer(other, m.nodeLabels) || !r.matchesPort(dst, t.Port, t.Protocol) {
				continue
			}
			d := TierDecision{Tier: p.tier, Policy: p.ref, Priority: p.priority, HasPriority: p.hasPriority, Direction: dir, Rule: i, RuleName: r.name, Action: r.action}
			if n := len(groups); n > 0 && groups[n-1][0].HasPriority && d.HasPriority && groups[n-1][0].Priority == d.Priority {
				groups[n-1] = append(groups[n-1], d)
			} else {
				groups = append(groups, tierMatch{d})
			}
			break
		}
	}
	return groups
}

// decideTiers walks the tiers for one side; s holds the NetworkPolicy
// tier's decision.
func (m *Model) decideTiers(s Side, admin, baseline []tierMatch) Side {
	final := func(d TierDecision) Side {
		out := s
		out.Chain = append(slices.Clone(s.Chain), d)
		out.DecidedBy = d.Tier
		out.Allowed = d.Action == ActionAccept
		return out
	}
	// rest is what the tiers after the Admin tier decide.
	rest := func(s Side) Side {
		// "v1.NetworkPolicy always makes a final decision for selected
		// pods. Further evaluation only happens for Pods not selected by
		// a v1.NetworkPolicy."
		if s.Isolated() {
			s.DecidedBy = TierNetworkPolicy
			return s
		}
		for _, g := range baseline {
			if g[0].Action == ActionPass {
				// "Pass: Skips all further ClusterNetworkPolicy rules in
				// the current tier ... and passes evaluation to the next
				// tier": after the Baseline tier, the default.
				s.Chain = append(slices.Clone(s.Chain), g[0])
				break
			}
			return final(g[0])
		}
		// "If a given connection wasn't allowed or denied by any of the
		// tiers, the default kubernetes policy is applied, which says
		// that all pods can communicate with each other."
		s.Allowed = true
		return s
	}
	for _, g := range admin {
		d := g[0]
		if d.Action == ActionPass {
			// "Pass: Skips all further ClusterNetworkPolicy rules in the
			// current tier for the selected traffic, and passes
			// evaluation to the next tier."
			s.Chain = append(s.Chain, d)
			return rest(s)
		}
		// "All Admin tier rules have higher precedence than
		// NetworkPolicy or Baseline tier rules." Accept: "No further
		// ingress ClusterNetworkPolicy or NetworkPolicy rules will be
		// processed"; Deny: "No further ClusterNetworkPolicy or
		// NetworkPolicy rules will be processed."
		return final(d)
	}
	return rest(s)
}

// priorityTie reports whether the first priority level that matched in
// either tier holds policies whose decisions lead to different answers:
// "If two (or more) policies in the same tier with the same priority could
// match a connection, then the implementation can apply any of the
// matching policies to the connection, and there is no way for the user
// to reliably determine which one it will choose." Every choice at the
// Admin tier's first level is tried with every choice at the Baseline
// tier's, since a Pass at the first reaches the second.
func (m *Model) priorityTie(s Side, admin, baseline []tierMatch) bool {
	choices := func(tier []tierMatch) [][]tierMatch {
		if len(tier) == 0 {
			return [][]tierMatch{tier}
		}
		var out [][]tierMatch
		for _, d := range tier[0] {
			out = append(out, append([]tierMatch{{d}}, tier[1:]...))
		}
		return out
	}
	outcomes := map[bool]bool{}
	for _, a := range choices(admin) {
		for _, b := range choices(baseline) {
			outcomes[m.decideTiers(s, a, b).Allowed] = true
		}
	}
	return len(outcomes) > 1
}

// compileClusterPolicies compiles every cluster-wide policy into the
// model's Admin and Baseline tiers, each sorted by priority.
func (m *Model) compileClusterPolicies(c ClusterPolicies) error {
	var errs []error
	add := func(p *tierPolicy, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.ref, err))
			return
		}
		if p.tier == TierAdmin {
			m.admin = append(m.admin, p)
		} else {
			m.baseline = append(m.baseline, p)
		}
	}
	for i := range c.AdminNetworkPolicies {
		add(compileANP(&c.AdminNetworkPolicies[i]))
	}
	for i := range c.BaselineAdminNetworkPolicies {
		add(compileBANP(&c.BaselineAdminNetworkPolicies[i]))
	}
	for i := range c.ClusterNetworkPolicies {
		add(compileCNP(&c.ClusterNetworkPolicies[i]))
	}
	// "Policies with lower priority values have higher precedence, and
	// are checked before policies with higher priority values." Policies
	// of equal priority keep a stable order by name; which one an
	// implementation applies is open, which priorityTie reports.
	byPriority := func(a, b *tierPolicy) int {
		return cmp.Or(cmp.Compare(a.priority, b.priority), cmp.Compare(a.ref, b.ref))
	}
	slices.SortStableFunc(m.admin, byPriority)
	slices.SortStableFunc(m.baseline, byPriority)
	return errors.Join(errs...)
}

func compileANP(p *anpv1alpha1.AdminNetworkPolicy) (*tierPolicy, error) {
	tp := &tierPolicy{tier: TierAdmin, ref: ShortAdminNetworkPolicy + "/" + p.Name, priority: p.Spec.Priority, hasPriority: true}
	var errs []error
	errs = append(errs, tp.compileSubject(p.Spec.Subject.Namespaces, anpPods(p.Spec.Subject.Pods)))
	for i, r := range p.Spec.Ingress {
		tr, err := compileANPRule(r.Name, anpAction(string(r.Action)), ingressPeersANP(r.From), r.Ports)
		errs = append(errs, wrapf(err, "spec.ingress[%d]", i))
		tp.ingress = append(tp.ingress, tr)
	}
	for i, r := range p.Spec.Egress {
		tr, err := compileANPRule(r.Name, anpAction(string(r.Action)), egressPeersANP(r.To), r.Ports)
		errs = append(errs, wrapf(err, "spec.egress[%d]", i))
		tp.egress = append(tp.egress, tr)
	}
	return tp, errors.Join(errs...)
}

func compileBANP(p *anpv1alpha1.BaselineAdminNetworkPolicy) (*tierPolicy, error) {
	tp := &tierPolicy{tier: TierBaseline, ref: ShortBaselineAdminNetworkPolicy + "/" + p.Name}
	var errs []error
	errs = append(errs, tp.compileSubject(p.Spec.Subject.Namespaces, anpPods(p.Spec.Subject.Pods)))
	for i, r := range p.Spec.Ingress {
		tr, err := compileANPRule(r.Name, anpAction(string(r.Action)), ingressPeersANP(r.From), r.Ports)
		errs = append(errs, wrapf(err, "spec.ingress[%d]", i))
		tp.ingress = append(tp.ingress, tr)
	}
	for i, r := range p.Spec.Egress {
		peers := make([]anpv1alpha1.AdminNetworkPolicyEgressPeer, len(r.To))
		for j, q := range r.To {
			peers[j] = anpv1alpha1.AdminNetworkPolicyEgressPeer{Namespaces: q.Namespaces, Pods: q.Pods, Nodes: q.Nodes, Networks: q.Networks}
		}
		tr, err := compileANPRule(r.Name, anpAction(string(r.Action)), egressPeersANP(peers), r.Ports)
		errs = append(errs, wrapf(err, "spec.egress[%d]", i))
		tp.egress = append(tp.egress, tr)
	}
	return tp, errors.Join(errs...)
}

func compileCNP(p *cnpv1beta1.ClusterNetworkPolicy) (*tierPolicy, error) {
	tier := TierAdmin
	if p.Spec.Tier == cnpv1beta1.BaselineTier {
		tier = TierBaseline
	}
	tp := &tierPolicy{tier: tier, ref: ShortClusterNetworkPolicy + "/" + p.Name, priority: p.Spec.Priority, hasPriority: true}
	var errs []error
	var pods *podsSelector
	if sp := p.Spec.Subject.Pods; sp != nil {
		pods = &podsSelector{namespaces: sp.NamespaceSelector, pods: sp.PodSelector}
	}
	errs = append(errs, tp.compileSubject(p.Spec.Subject.Namespaces, pods))
	for i, r := range p.Spec.Ingress {
		var peers []egressPeer
		for _, q := range r.From {
			peers = append(peers, egressPeer{namespaces: q.Namespaces, pods: cnpPods(q.Pods)})
		}
		tr, err := compileRuleOf(r.Name, Action(r.Action), peers, cnpPorts(r.Protocols))
		errs = append(errs, wrapf(err, "spec.ingress[%d]", i))
		tp.ingress = append(tp.ingress, tr)
	}
	for i, r := range p.Spec.Egress {
		var peers []egressPeer
		for _, q := range r.To {
			peers = append(peers, egressPeer{namespaces: q.Namespaces, pods: cnpPods(q.Pods), nodes: q.Nodes, networks: cidrStrings(q.Networks), domainNames: len(q.DomainNames) > 0})
		}
		tr, err := compileRuleOf(r.Name, Action(r.Action), peers, cnpPorts(r.Protocols))
		errs = append(errs, wrapf(err, "spec.egress[%d]", i))
		tp.egress = append(tp.egress, tr)
	}
	return tp, errors.Join(errs...)
}

// podsSelector is a pods subject or peer of either generation.
type podsSelector struct{ namespaces, pods metav1.LabelSelector }

// egressPeer is a peer of either generation and direction.
type egressPeer struct {
	namespaces  *metav1.LabelSelector
	pods        *podsSelector
	nodes       *metav1.LabelSelector
	networks    []string
	domainNames bool
}

func anpPods(p *anpv1alpha1.NamespacedPod) *podsSelector {
	if p == nil {
		return nil
	}
	return &podsSelector{namespaces: p.NamespaceSelector, pods: p.PodSelector}
}

func cnpPods(p *cnpv1beta1.NamespacedPod) *podsSelector {
	if p == nil {
		return nil
	}
	return &podsSelector{namespaces: p.NamespaceSelector, pods: p.PodSelector}
}

func ingressPeersANP(from []anpv1alpha1.AdminNetworkPolicyIngressPeer) []egressPeer {
	var out []egressPeer
	for _, q := range from {
		out = append(out, egressPeer{namespaces: q.Namespaces, pods: anpPods(q.Pods)})
	}
	return out
}

func egressPeersANP(to []anpv1alpha1.AdminNetworkPolicyEgressPeer) []egressPeer {
	var out []egressPeer
	for _, q := range to {
		var networks []string
		for _, n := range q.Networks {
			networks = append(networks, string(n))
		}
		out = append(out, egressPeer{namespaces: q.Namespaces, pods: anpPods(q.Pods), nodes: q.Nodes, networks: networks, domainNames: len(q.DomainNames) > 0})
	}
	return out
}

func cidrStrings(in []cnpv1beta1.CIDR) []string {
	var out []string
	for _, n := range in {
		out = append(out, string(n))
	}
	return out
}

// anpAction maps AdminNetworkPolicy's and BaselineAdminNetworkPolicy's
// "Allow" ("allows the selected traffic (even if it would otherwise have
// been denied by NetworkPolicy)") to Accept; Deny and Pass keep their
// names.
func anpAction(a string) Action {
	if a == string(anpv1alpha1.AdminNetworkPolicyRuleActionAllow) {
		return ActionAccept
	}
	return Action(a)
}

func compileANPRule(name string, action Action, peers []egressPeer, ports *[]anpv1alpha1.AdminNetworkPolicyPort) (tierRule, error) {
	var tps []tierPort
	if ports != nil {
		for _, p := range *ports {
			switch {
			case p.PortNumber != nil:
				tps = append(tps, tierPort{protocol: defaultTCP(p.PortNumber.Protocol), start: p.PortNumber.Port, end: p.PortNumber.Port})
			case p.PortRange != nil:
				tps = append(tps, tierPort{protocol: defaultTCP(p.PortRange.Protocol), start: p.PortRange.Start, end: p.PortRange.End})
			case p.NamedPort != nil:
				tps = append(tps, tierPort{name: *p.NamedPort})
			}
		}
	}
	return compileRuleOf(name, action, peers, tps)
}

// defaultTCP applies the CRD's default: "If not specified, this field
// defaults to TCP."
func defaultTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func cnpPorts(protocols []cnpv1beta1.ClusterNetworkPolicyProtocol) []tierPort {
	var out []tierPort
	portOf := func(proto corev1.Protocol, p *cnpv1beta1.Port) tierPort {
		tp := tierPort{protocol: proto}
		switch {
		case p == nil:
		case p.Range != nil:
			tp.start, tp.end = p.Range.Start, p.Range.End
		default:
			tp.start, tp.end = p.Number, p.Number
		}
		return tp
	}
	for _, pr := range protocols {
		switch {
		case pr.TCP != nil:
			out = append(out, portOf(corev1.ProtocolTCP, pr.TCP.DestinationPort))
		case pr.UDP != nil:
			out = append(out, portOf(corev1.ProtocolUDP, pr.UDP.DestinationPort))
		case pr.SCTP != nil:
			out = append(out, portOf(corev1.ProtocolSCTP, pr.SCTP.DestinationPort))
		case pr.DestinationNamedPort != "":
			out = append(out, tierPort{name: pr.DestinationNamedPort})
		}
	}
	return out
}

func compileRuleOf(name string, action Action, peers []egressPeer, ports []tierPort) (tierRule, error) {
	r := tierRule{name: name, action: action, ports: ports}
	var errs []error
	for i, q := range peers {
		var tp tierPeer
		var err error
		switch {
		case q.namespaces != nil:
			tp.namespaces, err = metav1.LabelSelectorAsSelector(q.namespaces)
		case q.pods != nil:
			if tp.podNamespaces, err = metav1.LabelSelectorAsSelector(&q.pods.namespaces); err == nil {
				tp.pods, err = metav1.LabelSelectorAsSelector(&q.pods.pods)
			}
		case q.nodes != nil:
			tp.isNodes = true
			tp.nodes, err = metav1.LabelSelectorAsSelector(q.nodes)
		case len(q.networks) > 0:
			tp.isNetworks = true
			for _, n := range q.networks {
				pfx, perr := netip.ParsePrefix(n)
				if perr != nil {
					err = errors.Join(err, perr)
					continue
				}
				tp.networks = append(tp.networks, pfx)
			}
		case q.domainNames:
			// Domain names resolve through DNS, outside any topology:
			// the model cannot match them, and says so.
			err = errors.New("domainNames peers are not modelled")
		default:
			tp.any = true
		}
		errs = append(errs, wrapf(err, "peer %d", i))
		r.peers = append(r.peers, tp)
	}
	return r, errors.Join(errs...)
}

func (tp *tierPolicy) compileSubject(namespaces *metav1.LabelSelector, pods *podsSelector) error {
	var err error
	switch {
	case namespaces != nil:
		tp.subjectNamespaces, err = metav1.LabelSelectorAsSelector(namespaces)
	case pods != nil:
		if tp.subjectPodNS, err = metav1.LabelSelectorAsSelector(&pods.namespaces); err == nil {
			tp.subjectPods, err = metav1.LabelSelectorAsSelector(&pods.pods)
		}
	default:
		err = errors.New("spec.subject: set namespaces or pods")
	}
	return wrapf(err, "spec.subject")
}

func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
