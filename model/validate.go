package model

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidatePolicy checks the parts of a NetworkPolicy the API server would
// reject, and says how to fix each one, so a scenario fails before it
// reaches a cluster. It reports every problem, each under fldPath.
func ValidatePolicy(np *networkingv1.NetworkPolicy, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	// The object's type, when it names one, must be this one: the API
	// server would not take a NetworkPolicy under another group or version.
	if v := np.APIVersion; v != "" && v != networkingv1.SchemeGroupVersion.String() {
		errs = append(errs, field.NotSupported(fldPath.Child("apiVersion"), v, []string{networkingv1.SchemeGroupVersion.String()}))
	}
	if k := np.Kind; k != "" && k != "NetworkPolicy" {
		errs = append(errs, field.NotSupported(fldPath.Child("kind"), k, []string{"NetworkPolicy"}))
	}
	meta := fldPath.Child("metadata")
	if np.Name == "" {
		errs = append(errs, field.Required(meta.Child("name"), "every policy needs a name"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(np.Name) {
			errs = append(errs, field.Invalid(meta.Child("name"), np.Name, msg))
		}
	}
	if np.Namespace == "" {
		errs = append(errs, field.Required(meta.Child("namespace"), "set the namespace the policy lives in, e.g. namespace: x"))
	}
	spec := fldPath.Child("spec")
	opts := metav1validation.LabelSelectorValidationOptions{}
	errs = append(errs, metav1validation.ValidateLabelSelector(&np.Spec.PodSelector, opts, spec.Child("podSelector"))...)
	for i, t := range np.Spec.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			errs = append(errs, field.NotSupported(spec.Child("policyTypes").Index(i), t, []string{string(networkingv1.PolicyTypeIngress), string(networkingv1.PolicyTypeEgress)}))
		}
	}
	for i, r := range np.Spec.Ingress {
		p := spec.Child("ingress").Index(i)
		errs = append(errs, validatePorts(r.Ports, p.Child("ports"))...)
		for j := range r.From {
			errs = append(errs, validatePeer(&r.From[j], p.Child("from").Index(j))...)
		}
	}
	for i, r := range np.Spec.Egress {
		p := spec.Child("egress").Index(i)
		errs = append(errs, validatePorts(r.Ports, p.Child("ports"))...)
		for j := range r.To {
			errs = append(errs, validatePeer(&r.To[j], p.Child("to").Index(j))...)
		}
	}
	return errs
}

// SupportedProtocols are the protocols a NetworkPolicyPort may name.
var SupportedProtocols = []string{string(corev1.ProtocolTCP), string(corev1.ProtocolUDP), string(corev1.ProtocolSCTP)}

// ValidateProtocol checks a protocol name; empty is not allowed here
// because callers that allow the TCP default check for it first.
func ValidateProtocol(p corev1.Protocol, fldPath *field.Path) field.ErrorList {
	switch p {
	case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		return nil
	}
	return field.ErrorList{field.NotSupported(fldPath, p, SupportedProtocols)}
}

func validatePorts(ports []networkingv1.NetworkPolicyPort, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, p := range ports {
		path := fldPath.Index(i)
		if p.Protocol != nil {
			errs = append(errs, ValidateProtocol(*p.Protocol, path.Child("protocol"))...)
		}
		if p.Port == nil {
			if p.EndPort != nil {
				errs = append(errs, field.Invalid(path.Child("endPort"), *p.EndPort, "endPort needs a numeric port: set port to the first port of the range"))
			}
			continue
		}
		if p.Port.Type == intstr.String {
			for _, msg := range validation.IsValidPortName(p.Port.StrVal) {
				errs = append(errs, field.Invalid(path.Child("port"), p.Port.StrVal, msg))
			}
			if p.EndPort != nil {
				errs = append(errs, field.Invalid(path.Child("endPort"), *p.EndPort, "endPort cannot be used with a named port: use a numeric port or drop endPort"))
			}
			continue
		}
		for _, msg := range validation.IsValidPortNum(int(p.Port.IntVal)) {
			errs = append(errs, field.Invalid(path.Child("port"), p.Port.IntVal, msg))
		}
		if p.EndPort != nil {
			if *p.EndPort < p.Port.IntVal {
				errs = append(errs, field.Invalid(path.Child("endPort"), *p.EndPort, fmt.Sprintf("must be greater than or equal to port (%d)", p.Port.IntVal)))
			}
			for _, msg := range validation.IsValidPortNum(int(*p.EndPort)) {
				errs = append(errs, field.Invalid(path.Child("endPort"), *p.EndPort, msg))
			}
		}
	}
	return errs
}

func validatePeer(p *networkingv1.NetworkPolicyPeer, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	opts := metav1validation.LabelSelectorValidationOptions{}
	if p.PodSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(p.PodSelector, opts, fldPath.Child("podSelector"))...)
	}
	if p.NamespaceSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(p.NamespaceSelector, opts, fldPath.Child("namespaceSelector"))...)
	}
	switch {
	case p.IPBlock != nil && (p.PodSelector != nil || p.NamespaceSelector != nil):
		errs = append(errs, field.Forbidden(fldPath, "ipBlock cannot be combined with podSelector or namespaceSelector in one peer: split them into two peers"))
	case p.IPBlock == nil && p.PodSelector == nil && p.NamespaceSelector == nil:
		errs = append(errs, field.Required(fldPath, "a peer needs podSelector, namespaceSelector or ipBlock; to allow every source, leave the from/to list empty"))
	case p.IPBlock != nil:
		errs = append(errs, ValidateIPBlock(p.IPBlock, fldPath.Child("ipBlock"))...)
	}
	return errs
}

// ValidateIPBlock checks the CIDRs of an ipBlock and that every except
// range lies inside cidr.
func ValidateIPBlock(b *networkingv1.IPBlock, fldPath *field.Path) field.ErrorList {
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return field.ErrorList{field.Invalid(fldPath.Child("cidr"), b.CIDR, "must be a CIDR such as 10.0.0.0/16, or $(ns/pod) for a pod's address")}
	}
	var errs field.ErrorList
	for i, s := range b.Except {
		ex, err := netip.ParsePrefix(s)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(fldPath.Child("except").Index(i), s, "must be a CIDR such as 10.0.1.0/24"))
		case ex.Addr().Is4() != cidr.Addr().Is4() || ex.Bits() <= cidr.Bits() || !cidr.Masked().Contains(ex.Addr()):
			// The API server: "must be a strict subset of `cidr`".
			errs = append(errs, field.Invalid(fldPath.Child("except").Index(i), s, fmt.Sprintf("must be strictly inside cidr %s (a smaller range), as the API server requires", b.CIDR)))
		}
	}
	return errs
}
