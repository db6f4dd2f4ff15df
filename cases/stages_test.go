package cases

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netpol-conformance/netpol-conformance/topology"
)

// TestPlaceholderFamilies checks that $(ns/pod) becomes the pod's
// single-address prefix in either IP family, so ipBlock cases stay right on
// IPv6 and dual-stack clusters.
func TestPlaceholderFamilies(t *testing.T) {
	tests := []struct{ ip, cidr, except string }{
		{"10.244.1.7", "10.244.1.7/32", "10.244.1.7/32"},
		{"fd00:10:244::7", "fd00:10:244::7/128", "fd00:10:244::7/128"},
	}
	for _, tc := range tests {
		topo := topology.Standard()
		topo.Pod("y/b").IP = tc.ip
		c := &Case{Name: "c", Policies: []networkingv1.NetworkPolicy{{
			ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "x"},
			Spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "$(y/b)", Except: []string{"$(y/b)"}}}},
			}}},
		}}}
		stages, err := c.Stages(topo)
		if err != nil {
			t.Fatal(err)
		}
		got := stages[0].Policies[0].Spec.Ingress[0].From[0].IPBlock
		if got.CIDR != tc.cidr || got.Except[0] != tc.except {
			t.Errorf("pod IP %s: ipBlock = %s except %v, want %s", tc.ip, got.CIDR, got.Except, tc.cidr)
		}
		if c.Policies[0].Spec.Ingress[0].From[0].IPBlock.CIDR != "$(y/b)" {
			t.Error("resolving placeholders changed the case itself")
		}
	}
}
