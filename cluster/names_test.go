package cluster

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPolicyRenamesNamespaces(t *testing.T) {
	names := Names{"x": "netpol-r1-x", "y": "netpol-r1-y"}
	in := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "x"},
		Spec: networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
				{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "y", "ns": "y"}}},
				{NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: []string{"x", "kube-system"}}}}},
			}}},
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{
				{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "y"}}},
			}}},
		},
	}
	orig := in.DeepCopy()
	out := names.Policy(in)
	if out.Namespace != "netpol-r1-x" {
		t.Errorf("namespace = %s", out.Namespace)
	}
	from := out.Spec.Ingress[0].From
	if got := from[0].NamespaceSelector.MatchLabels; got["kubernetes.io/metadata.name"] != "netpol-r1-y" || got["ns"] != "y" {
		t.Errorf("matchLabels = %v: only the name label is renamed", got)
	}
	if got := from[1].NamespaceSelector.MatchExpressions[0].Values; got[0] != "netpol-r1-x" || got[1] != "kube-system" {
		t.Errorf("matchExpressions values = %v", got)
	}
	if got := out.Spec.Egress[0].To[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]; got != "netpol-r1-y" {
		t.Errorf("egress selector = %s", got)
	}
	if !equality.Semantic.DeepEqual(in, orig) {
		t.Error("Policy modified its input")
	}
}
