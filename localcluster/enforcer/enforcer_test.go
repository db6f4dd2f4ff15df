package enforcer

import (
	"strings"
	"testing"

	"github.com/netpol-conformance/netpol-conformance/localcluster/gobuild"
)

// The drivers that carry pods between nodes themselves say how to see that
// a node knows its peer; an empty command would never pass.
func TestPeerKnown(t *testing.T) {
	for _, tc := range []struct {
		r    NodeRouter
		want string
	}{
		{KubeRouter{}, "ip -4 route show exact 10.244.1.0/24 via 10.250.0.12 proto 17"},
		{Cilium{}, "ip -4 route show exact 10.244.1.0/24 dev cilium_host"},
		{Calico{}, "ip -4 neigh show 10.244.1.1 dev vxlan.calico nud permanent"},
	} {
		if got := strings.Join(tc.r.PeerKnown("10.250.0.12", "10.244.1.0/24"), " "); got != tc.want {
			t.Errorf("%T.PeerKnown = %q, want %q", tc.r, got, tc.want)
		}
	}
	if got := (Calico{}).PeerKnown("10.250.0.12", "not a CIDR"); got != nil {
		t.Errorf("Calico PeerKnown of a bad CIDR = %q, want none", got)
	}
}

// What an enforcer does between nodes changes with the node count, and on
// the host node of a one-node cluster it must stay off: kube-router's
// router would change the host's sysctls, links and rt_tables, Cilium's
// and Calico's tunnels would be links on the host.
func TestBetweenNodesOnlyOnNamespaceNodes(t *testing.T) {
	host := Env{StateDir: "/state", Kubeconfig: "/kc", NodeName: "n", NodeIP: "192.0.2.10", ClusterCIDR: "10.244.0.0/16",
		Nodes: 1, Builder: &gobuild.Builder{BinDir: "/bin", SrcDir: "/src"}}
	node := host
	node.Nodes, node.NodeIP, node.PodCIDR = 2, "10.250.0.12", "10.244.1.0/24"
	args := func(d Driver, env Env) string { return " " + strings.Join(d.Processes(env)[0].Args, " ") + " " }
	env := func(d Driver, env Env) string { return " " + strings.Join(d.Processes(env)[0].Env, " ") + " " }
	ports := func(d Driver, env Env) string { return " " + strings.Join(d.Processes(env)[0].Ports, " ") + " " }
	for _, tc := range []struct {
		name       string
		of         func(Driver, Env) string
		d          Driver
		host, node []string // present on that kind of node, absent on the other
	}{
		{"kube-router args", args, KubeRouter{}, []string{"--run-router=false"}, []string{"--run-router=true", "--enable-overlay=false"}},
		{"kube-router ports", ports, KubeRouter{}, nil, []string{"10.250.0.12:179", "10.250.0.12:50051", "127.0.0.1:50051"}},
		{"cilium args", args, Cilium{}, []string{"--routing-mode=native", "--ipv4-native-routing-cidr=10.244.0.0/16"},
			[]string{"--routing-mode=tunnel", "--tunnel-protocol=vxlan", "--tunnel-port=8472"}},
		{"calico env", env, Calico{}, []string{"FELIX_VXLANENABLED=false"}, []string{"FELIX_VXLANENABLED=true"}},
	} {
		h, n := tc.of(tc.d, host), tc.of(tc.d, node)
		for _, w := range tc.host {
			if !strings.Contains(h, " "+w+" ") || strings.Contains(n, " "+w+" ") {
				t.Errorf("%s: %s should be on the host node only:\nhost:%s\nnode:%s", tc.name, w, h, n)
			}
		}
		for _, w := range tc.node {
			if strings.Contains(h, " "+w+" ") || !strings.Contains(n, " "+w+" ") {
				t.Errorf("%s: %s should be on namespace nodes only:\nhost:%s\nnode:%s", tc.name, w, h, n)
			}
		}
	}
	if a, _ := (Calico{}).NodeAnnotations(host); a != nil {
		t.Errorf("Calico annotates the host node: %v", a)
	}
	for _, tc := range []struct {
		env  Env
		want int
	}{{host, 1500}, {node, 1450}} {
		if got := calicoPodMTU(tc.env); got != tc.want {
			t.Errorf("Calico pod MTU on %d node(s) = %d, want %d", tc.env.Nodes, got, tc.want)
		}
	}
}
