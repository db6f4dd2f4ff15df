package clusterpolicy

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	anpv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netpol-conformance/netpol-conformance/model"
)

// The CRDs' limits (their +kubebuilder:validation markers).
const (
	maxPriority   = 1000
	maxANPRules   = 100 // "A total of 100 rules will be allowed in each ANP instance."
	maxCNPRules   = 25  // "A maximum of 25 rules is allowed in this block."
	maxANPPeers   = 100
	maxCNPPeers   = 25
	maxNetworks   = 25
	maxRuleName   = 100
	banpName      = "default"
	domainNamesNo = "domainNames peers resolve names through DNS, which the model cannot follow: use networks with the addresses instead"
)

// Validate checks what the CRDs of network-policy-api v0.3.0 (v0.1.x for
// AdminNetworkPolicy and BaselineAdminNetworkPolicy) would reject, and
// what the model cannot decide, each under fldPath with how to fix it.
func Validate(o *Object, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	meta := fldPath.Child("metadata")
	name := o.Name()
	if name == "" {
		errs = append(errs, field.Required(meta.Child("name"), "every policy needs a name"))
	}
	for _, msg := range validation.IsDNS1123Subdomain(name) {
		if name != "" {
			errs = append(errs, field.Invalid(meta.Child("name"), name, msg))
		}
	}
	spec := fldPath.Child("spec")
	switch {
	case o.AdminNetworkPolicy != nil:
		p := &o.AdminNetworkPolicy.Spec
		if o.AdminNetworkPolicy.Namespace != "" {
			errs = append(errs, field.Forbidden(meta.Child("namespace"), "an AdminNetworkPolicy is cluster-scoped: remove the namespace"))
		}
		errs = append(errs, validatePriority(p.Priority, spec.Child("priority"))...)
		errs = append(errs, validateSubject(p.Subject.Namespaces, p.Subject.Pods != nil, podSelectors(p.Subject.Pods), spec.Child("subject"))...)
		errs = append(errs, maxItems(len(p.Ingress), maxANPRules, spec.Child("ingress"))...)
		errs = append(errs, maxItems(len(p.Egress), maxANPRules, spec.Child("egress"))...)
		for i, r := range p.Ingress {
			f := spec.Child("ingress").Index(i)
			errs = append(errs, validateRule(r.Name, string(r.Action), anpActions, f)...)
			errs = append(errs, validatePeers(ingressPeers(r.From), maxANPPeers, f.Child("from"))...)
			errs = append(errs, validateANPPorts(r.Ports, false, f.Child("ports"))...)
		}
		for i, r := range p.Egress {
			f := spec.Child("egress").Index(i)
			errs = append(errs, validateRule(r.Name, string(r.Action), anpActions, f)...)
			peers := egressPeersANP(r.To)
			errs = append(errs, validatePeers(peers, maxANPPeers, f.Child("to"))...)
			errs = append(errs, validateANPPorts(r.Ports, outsidePods(peers), f.Child("ports"))...)
		}
	case o.BaselineAdminNetworkPolicy != nil:
		p := &o.BaselineAdminNetworkPolicy.Spec
		if name != banpName && name != "" {
			// The CRD's rule: self.metadata.name == 'default'.
			errs = append(errs, field.Invalid(meta.Child("name"), name, `only one baseline admin network policy with metadata.name="default" can be created in the cluster: name it default`))
		}
		if o.BaselineAdminNetworkPolicy.Namespace != "" {
			errs = append(errs, field.Forbidden(meta.Child("namespace"), "a BaselineAdminNetworkPolicy is cluster-scoped: remove the namespace"))
		}
		errs = append(errs, validateSubject(p.Subject.Namespaces, p.Subject.Pods != nil, podSelectors(p.Subject.Pods), spec.Child("subject"))...)
		errs = append(errs, maxItems(len(p.Ingress), maxANPRules, spec.Child("ingress"))...)
		errs = append(errs, maxItems(len(p.Egress), maxANPRules, spec.Child("egress"))...)
		for i, r := range p.Ingress {
			f := spec.Child("ingress").Index(i)
			errs = append(errs, validateRule(r.Name, string(r.Action), banpActions, f)...)
			errs = append(errs, validatePeers(ingressPeers(r.From), maxANPPeers, f.Child("from"))...)
			errs = append(errs, validateANPPorts(r.Ports, false, f.Child("ports"))...)
		}
		for i, r := range p.Egress {
			f := spec.Child("egress").Index(i)
			errs = append(errs, validateRule(r.Name, string(r.Action), banpActions, f)...)
			var peers []peer
			for _, q := range r.To {
				peers = append(peers, peer{namespaces: q.Namespaces, pods: q.Pods != nil, podSel: podSelectors(q.Pods), nodes: q.Nodes, networks: anpNetworks(q.Networks)})
			}
			errs = append(errs, validatePeers(peers, maxANPPeers, f.Child("to"))...)
			errs = append(errs, validateANPPorts(r.Ports, outsidePods(peers), f.Child("ports"))...)
		}
	case o.ClusterNetworkPolicy != nil:
		p := &o.ClusterNetworkPolicy.Spec
		if o.ClusterNetworkPolicy.Namespace != "" {
			errs = append(errs, field.Forbidden(meta.Child("namespace"), "a ClusterNetworkPolicy is cluster-scoped: remove the namespace"))
		}
		if p.Tier != cnpv1beta1.AdminTier && p.Tier != cnpv1beta1.BaselineTier {
			errs = append(errs, field.NotSupported(spec.Child("tier"), p.Tier, []string{string(cnpv1beta1.AdminTier), string(cnpv1beta1.BaselineTier)}))
		}
		errs = append(errs, validatePriority(p.Priority, spec.Child("priority"))...)
		var pods []*metav1.LabelSelector
		if sp := p.Subject.Pods; sp != nil {
			pods = []*metav1.LabelSelector{&sp.NamespaceSelector, &sp.PodSelector}
		}
		errs = append(errs, validateSubject(p.Subject.Namespaces, p.Subject.Pods != nil, pods, spec.Child("subject"))...)
		errs = append(errs, maxItems(len(p.Ingress), maxCNPRules, spec.Child("ingress"))...)
		errs = append(errs, maxItems(len(p.Egress), maxCNPRules, spec.Child("egress"))...)
		for i, r := range p.Ingress {
			f := spec.Child("ingress").Index(i)
			errs = append(errs, validateRule(r.Name, string(r.Action), cnpActions, f)...)
			var peers []peer
			for _, q := range r.From {
				peers = append(peers, peer{namespaces: q.Namespaces, pods: q.Pods != nil, podSel: cnpPodSelectors(q.Pods)})
			}
			errs = append(errs, validatePeers(peers, maxCNPPeers, f.Child("from"))...)
			errs = append(errs, validateProtocols(r.Protocols, false, f.Child("protocols"))...)
		}
		for i, r := range p.Egress {
			f := spec.Child("egress").Index(i)
			errs = append(errs, validateRule(r.Name, string(r.Action), cnpActions, f)...)
			var peers []peer
			for _, q := range r.To {
				var nets []string
				for _, n := range q.Networks {
					nets = append(nets, string(n))
				}
				peers = append(peers, peer{namespaces: q.Namespaces, pods: q.Pods != nil, podSel: cnpPodSelectors(q.Pods), nodes: q.Nodes, networks: nets, domainNames: len(q.DomainNames) > 0})
			}
			errs = append(errs, validatePeers(peers, maxCNPPeers, f.Child("to"))...)
			errs = append(errs, validateProtocols(r.Protocols, outsidePods(peers), f.Child("protocols"))...)
		}
	default:
		errs = append(errs, field.Required(fldPath, "no policy"))
	}
	return errs
}

var (
	anpActions  = []string{string(anpv1alpha1.AdminNetworkPolicyRuleActionAllow), string(anpv1alpha1.AdminNetworkPolicyRuleActionDeny), string(anpv1alpha1.AdminNetworkPolicyRuleActionPass)}
	banpActions = []string{string(anpv1alpha1.BaselineAdminNetworkPolicyRuleActionAllow), string(anpv1alpha1.BaselineAdminNetworkPolicyRuleActionDeny)}
	cnpActions  = []string{string(model.ActionAccept), string(model.ActionDeny), string(model.ActionPass)}
)

func validatePriority(p int32, f *field.Path) field.ErrorList {
	if p < 0 || p > maxPriority {
		return field.ErrorList{field.Invalid(f, p, fmt.Sprintf("must be from 0 to %d (lower values take precedence)", maxPriority))}
	}
	return nil
}

func maxItems(n, limit int, f *field.Path) field.ErrorList {
	if n > limit {
		return field.ErrorList{field.TooMany(f, n, limit)}
	}
	return nil
}

func validateSubject(namespaces *metav1.LabelSelector, hasPods bool, pods []*metav1.LabelSelector, f *field.Path) field.ErrorList {
	var errs field.ErrorList
	// "Exactly one field must be set."
	switch {
	case namespaces != nil && hasPods:
		errs = append(errs, field.Invalid(f, "namespaces and pods", "set exactly one of namespaces or pods"))
	case namespaces == nil && !hasPods:
		errs = append(errs, field.Required(f, "set exactly one of namespaces (every pod of the selected namespaces) or pods (namespaceSelector and podSelector)"))
	}
	if namespaces != nil {
		errs = append(errs, validateSelector(namespaces, f.Child("namespaces"))...)
	}
	for i, s := range pods {
		errs = append(errs, validateSelector(s, f.Child("pods", []string{"namespaceSelector", "podSelector"}[i]))...)
	}
	return errs
}

func validateSelector(s *metav1.LabelSelector, f *field.Path) field.ErrorList {
	return metav1validation.ValidateLabelSelector(s, metav1validation.LabelSelectorValidationOptions{}, f)
}

func validateRule(name, action string, actions []string, f *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(name) > maxRuleName {
		errs = append(errs, field.TooLong(f.Child("name"), name, maxRuleName))
	}
	known := false
	for _, a := range actions {
		known = known || a == action
	}
	if !known {
		errs = append(errs, field.NotSupported(f.Child("action"), action, actions))
	}
	return errs
}

// peer is a peer of any kind and direction, for validation.
type peer struct {
	namespaces  *metav1.LabelSelector
	pods        bool
	podSel      []*metav1.LabelSelector
	nodes       *metav1.LabelSelector
	networks    []string
	domainNames bool
}

func podSelectors(p *anpv1alpha1.NamespacedPod) []*metav1.LabelSelector {
	if p == nil {
		return nil
	}
	return []*metav1.LabelSelector{&p.NamespaceSelector, &p.PodSelector}
}

func cnpPodSelectors(p *cnpv1beta1.NamespacedPod) []*metav1.LabelSelector {
	if p == nil {
		return nil
	}
	return []*metav1.LabelSelector{&p.NamespaceSelector, &p.PodSelector}
}

func anpNetworks(in []anpv1alpha1.CIDR) []string {
	var out []string
	for _, n := range in {
		out = append(out, string(n))
	}
	return out
}

func ingressPeers(from []anpv1alpha1.AdminNetworkPolicyIngressPeer) []peer {
	var out []peer
	for _, q := range from {
		out = append(out, peer{namespaces: q.Namespaces, pods: q.Pods != nil, podSel: podSelectors(q.Pods)})
	}
	return out
}

func egressPeersANP(to []anpv1alpha1.AdminNetworkPolicyEgressPeer) []peer {
	var out []peer
	for _, q := range to {
		out = append(out, peer{namespaces: q.Namespaces, pods: q.Pods != nil, podSel: podSelectors(q.Pods), nodes: q.Nodes, networks: anpNetworks(q.Networks), domainNames: len(q.DomainNames) > 0})
	}
	return out
}

// outsidePods reports whether a rule has a peer with no named ports: the
// CRDs reject named ports there ("networks/nodes/domainNames peer cannot
// be set with namedPorts since there are no namedPorts for
// networks/nodes/domainNames").
func outsidePods(peers []peer) bool {
	for _, p := range peers {
		if p.nodes != nil || len(p.networks) > 0 || p.domainNames {
			return true
		}
	}
	return false
}

func validatePeers(peers []peer, limit int, f *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(peers) == 0 {
		errs = append(errs, field.Required(f, "list at least one peer"))
	}
	errs = append(errs, maxItems(len(peers), limit, f)...)
	for i, p := range peers {
		pf := f.Index(i)
		set := 0
		for _, b := range []bool{p.namespaces != nil, p.pods, p.nodes != nil, len(p.networks) > 0, p.domainNames} {
			if b {
				set++
			}
		}
		// "Exactly one of the fields must be set for a given peer."
		if set != 1 {
			errs = append(errs, field.Invalid(pf, set, "set exactly one of namespaces, pods, nodes, networks (a peer with none would fail closed)"))
		}
		if p.namespaces != nil {
			errs = append(errs, validateSelector(p.namespaces, pf.Child("namespaces"))...)
		}
		for j, s := range p.podSel {
			errs = append(errs, validateSelector(s, pf.Child("pods", []string{"namespaceSelector", "podSelector"}[j]))...)
		}
		if p.nodes != nil {
			errs = append(errs, validateSelector(p.nodes, pf.Child("nodes"))...)
		}
		errs = append(errs, maxItems(len(p.networks), maxNetworks, pf.Child("networks"))...)
		for j, n := range p.networks {
			// The CRD's rule: isCIDR(self) && cidr(self) == cidr(self).masked().
			pfx, err := netip.ParsePrefix(n)
			switch {
			case err != nil:
				errs = append(errs, field.Invalid(pf.Child("networks").Index(j), n, "not a CIDR: write it as 10.0.0.0/8 or fd00::/8"))
			case pfx.Masked() != pfx:
				errs = append(errs, field.Invalid(pf.Child("networks").Index(j), n, fmt.Sprintf("host bits are set: write %s", pfx.Masked())))
			}
		}
		if p.domainNames {
			errs = append(errs, field.Forbidden(pf.Child("domainNames"), domainNamesNo))
		}
	}
	return errs
}

func validatePort(n int32, f *field.Path) field.ErrorList {
	if n < 1 || n > 65535 {
		return field.ErrorList{field.Invalid(f, n, "must be from 1 to 65535")}
	}
	return nil
}

func validateProtocol(p corev1.Protocol, f *field.Path) field.ErrorList {
	switch p {
	case "", corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		return nil
	}
	return field.ErrorList{field.NotSupported(f, p, []string{string(corev1.ProtocolTCP), string(corev1.ProtocolUDP), string(corev1.ProtocolSCTP)})}
}

func validateANPPorts(ports *[]anpv1alpha1.AdminNetworkPolicyPort, noNamed bool, f *field.Path) field.ErrorList {
	if ports == nil {
		return nil
	}
	var errs field.ErrorList
	if len(*ports) == 0 {
		errs = append(errs, field.Required(f, "list at least one port, or leave ports out to match every port"))
	}
	errs = append(errs, maxItems(len(*ports), maxANPRules, f)...)
	for i, p := range *ports {
		pf := f.Index(i)
		set := 0
		for _, b := range []bool{p.PortNumber != nil, p.NamedPort != nil, p.PortRange != nil} {
			if b {
				set++
			}
		}
		if set != 1 {
			errs = append(errs, field.Invalid(pf, set, "set exactly one of portNumber, namedPort or portRange"))
		}
		switch {
		case p.PortNumber != nil:
			errs = append(errs, validateProtocol(p.PortNumber.Protocol, pf.Child("portNumber", "protocol"))...)
			errs = append(errs, validatePort(p.PortNumber.Port, pf.Child("portNumber", "port"))...)
		case p.PortRange != nil:
			errs = append(errs, validateProtocol(p.PortRange.Protocol, pf.Child("portRange", "protocol"))...)
			errs = append(errs, validateRange(p.PortRange.Start, p.PortRange.End, pf.Child("portRange"))...)
		case p.NamedPort != nil:
			errs = append(errs, validateNamedPort(*p.NamedPort, noNamed, pf.Child("namedPort"))...)
		}
	}
	return errs
}

func validateRange(start, end int32, f *field.Path) field.ErrorList {
	errs := append(validatePort(start, f.Child("start")), validatePort(end, f.Child("end"))...)
	// "the Start value must be less than End."
	if start >= end {
		errs = append(errs, field.Invalid(f.Child("end"), end, fmt.Sprintf("must be greater than start (%d); for one port use a port number", start)))
	}
	return errs
}

func validateNamedPort(name string, noNamed bool, f *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsValidPortName(name) {
		errs = append(errs, field.Invalid(f, name, msg))
	}
	if noNamed {
		errs = append(errs, field.Forbidden(f, "networks and nodes peers have no named ports: use a port number, or move the pods to a rule of their own"))
	}
	return errs
}

func validateProtocols(protocols []cnpv1beta1.ClusterNetworkPolicyProtocol, noNamed bool, f *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, maxItems(len(protocols), maxCNPRules, f)...)
	for i, p := range protocols {
		pf := f.Index(i)
		set := 0
		var port *cnpv1beta1.Port
		var portField *field.Path
		for _, b := range []struct {
			on   bool
			name string
			port func() *cnpv1beta1.Port
		}{
			{p.TCP != nil, "tcp", func() *cnpv1beta1.Port { return p.TCP.DestinationPort }},
			{p.UDP != nil, "udp", func() *cnpv1beta1.Port { return p.UDP.DestinationPort }},
			{p.SCTP != nil, "sctp", func() *cnpv1beta1.Port { return p.SCTP.DestinationPort }},
			{p.DestinationNamedPort != "", "destinationNamedPort", nil},
		} {
			if !b.on {
				continue
			}
			set++
			if b.port != nil {
				port, portField = b.port(), pf.Child(b.name, "destinationPort")
				if port == nil {
					// The CRD: MinProperties=1 on tcp, udp and sctp.
					errs = append(errs, field.Required(portField, "set destinationPort (a number or a range); to match every port of the protocol use a range from 1 to 65535"))
				}
			}
		}
		if set != 1 {
			errs = append(errs, field.Invalid(pf, set, "set exactly one of tcp, udp, sctp or destinationNamedPort"))
		}
		if port != nil {
			switch {
			case port.Range != nil && port.Number != 0:
				errs = append(errs, field.Invalid(portField, "number and range", "set exactly one of number or range"))
			case port.Range != nil:
				errs = append(errs, validateRange(port.Range.Start, port.Range.End, portField.Child("range"))...)
			default:
				errs = append(errs, validatePort(port.Number, portField.Child("number"))...)
			}
		}
		if p.DestinationNamedPort != "" {
			errs = append(errs, validateNamedPort(p.DestinationNamedPort, noNamed, pf.Child("destinationNamedPort"))...)
		}
	}
	return errs
}
