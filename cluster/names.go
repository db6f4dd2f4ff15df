// Package cluster is the suite's only cluster I/O: it creates the standard
// topology in a real cluster, applies a case's stages to it, and runs probe
// passes through the agent, one exec per source pod. Everything it decides
// (what to probe, what the answer should be) comes from the pure packages.
package cluster

import (
	networkingv1 "k8s.io/api/networking/v1"
)

// RunLabel marks every namespace the suite creates, with the run's ID as
// value, so a cleanup can always find what a run left behind.
const RunLabel = "netpol-conformance.io/run"

// Names maps the case table's logical namespace names (x, y, z) to the
// namespaces of one run; names it does not hold map to themselves
// (kube-system).
type Names map[string]string

// Real returns the cluster's name for a logical namespace.
func (n Names) Real(logical string) string {
	if real, ok := n[logical]; ok {
		return real
	}
	return logical
}

// Policy returns a copy of p for the cluster: its namespace renamed, and
// every kubernetes.io/metadata.name value in its namespace selectors too,
// since the API server sets that label to the real name.
func (n Names) Policy(p *networkingv1.NetworkPolicy) *networkingv1.NetworkPolicy {
	out := p.DeepCopy()
	out.Namespace = n.Real(p.Namespace)
	out.ResourceVersion = ""
	rename := n.renameNamespaceSelector
	for i := range out.Spec.Ingress {
		for j := range out.Spec.Ingress[i].From {
			rename(out.Spec.Ingress[i].From[j].NamespaceSelector)
		}
	}
	for i := range out.Spec.Egress {
		for j := range out.Spec.Egress[i].To {
			rename(out.Spec.Egress[i].To[j].NamespaceSelector)
		}
	}
	return out
}
