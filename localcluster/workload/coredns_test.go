package workload

import (
	"strings"
	"testing"

	"github.com/netpol-conformance/netpol-conformance/topology"
)

// The DNS the local cluster runs is the pod the topology models
// (kube-system/kube-dns, k8s-app=kube-dns), serving on 53 as everywhere:
// policies in the table name port 53, which must be the pod's own port.
func TestCoreDNSIsTheModelledDNSPod(t *testing.T) {
	dns := CoreDNS("img", "10.96.0.10", "cluster.local")
	model := topology.Standard().Pod(topology.DNSPod)
	ns, name, _ := strings.Cut(topology.DNSPod, "/")
	if dns.Service.Namespace != ns || dns.Service.Name != name || dns.Deployment.Namespace != ns {
		t.Errorf("Service %s/%s, Deployment in %s; want %s", dns.Service.Namespace, dns.Service.Name, dns.Deployment.Namespace, topology.DNSPod)
	}
	for k, v := range model.Labels {
		if dns.Deployment.Spec.Template.Labels[k] != v {
			t.Errorf("pod label %s=%q, want %q", k, dns.Deployment.Spec.Template.Labels[k], v)
		}
	}
	c := dns.Deployment.Spec.Template.Spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[string(p.Protocol)] = p.ContainerPort
	}
	if ports["UDP"] != 53 || ports["TCP"] != 53 {
		t.Errorf("container ports %v, want 53/UDP and 53/TCP", c.Ports)
	}
	if dns.Service.Spec.ClusterIP != "10.96.0.10" {
		t.Errorf("Service IP %s", dns.Service.Spec.ClusterIP)
	}
}

// The Corefile uses each compiled-in plugin and nothing else, and never
// forwards: nothing may leave the machine.
func TestCorefileUsesExactlyTheCompiledPlugins(t *testing.T) {
	cf := Corefile("cluster.local")
	used := map[string]bool{}
	for _, l := range strings.Split(cf, "\n") {
		f := strings.Fields(l)
		// Directives sit at the server block's first indentation level.
		if len(f) > 0 && strings.HasPrefix(l, "    ") && !strings.HasPrefix(l, "        ") && f[0] != "}" {
			used[f[0]] = true
		}
	}
	for _, p := range CoreDNSPlugins {
		if !used[p] {
			t.Errorf("plugin %s is compiled in but the Corefile does not use it", p)
		}
		delete(used, p)
	}
	for p := range used {
		t.Errorf("the Corefile uses %s, which is not compiled in", p)
	}
	if strings.Contains(cf, "forward") {
		t.Error("the Corefile forwards queries off the machine")
	}
}
