package localcluster

import (
	"net"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/netpol-conformance/netpol-conformance/localcluster/enforcer"
	"github.com/netpol-conformance/netpol-conformance/localcluster/hoststate"
	"github.com/netpol-conformance/netpol-conformance/localcluster/proc"
	"github.com/netpol-conformance/netpol-conformance/localcluster/render"
)

// harnessFootprint is what the harness's own components change on the
// host whatever they are told: the bridge plugin and we set ip_forward;
// kubelet sets the vm and kernel settings unless protectKernelDefaults;
// kube-proxy may set route_localnet and the conntrack limits. containerd's
// shim sockets and CNI's result cache are hard-coded, and kubelet always
// creates /var/log/containers.
var harnessFootprint = enforcer.Footprint{
	Paths: []string{
		"/run/containerd", "/run/netns", "/var/lib/cni", "/var/log/pods", "/var/log/containers",
		"/var/lib/kubelet", "/etc/cni/net.d", "/opt/containerd", "/etc/kubernetes",
	},
	Sysctls: []string{
		"net/ipv4/ip_forward",
		"net/bridge/bridge-nf-call-iptables",
		"net/bridge/bridge-nf-call-ip6tables",
		"net/ipv4/conf/all/route_localnet",
		"net/netfilter/nf_conntrack_max",
		"net/netfilter/nf_conntrack_tcp_timeout_established",
		"net/netfilter/nf_conntrack_tcp_timeout_close_wait",
		"vm/overcommit_memory",
		"vm/panic_on_oom",
		"kernel/panic",
		"kernel/panic_on_oops",
		"kernel/keys/root_maxkeys",
		"kernel/keys/root_maxbytes",
	},
}

// runtimeHelpers are the processes the container runtime starts for pods,
// which no spec names: the shim, the OCI runtime and the sandbox's pause.
var runtimeHelpers = []string{"containerd-shim", "runc", "pause"}

// commLen is how much of an executable's name the kernel keeps as its comm.
const commLen = 15

// footprint is everything of the host the cluster may touch, declared
// where each part lives: the harness's components (their specs' ports and
// executables, harnessFootprint) and every enforcer driver (its processes'
// specs, its CNI plugins, its Footprint). Every driver counts, not only
// this cluster's: a killed cluster's enforcer need not be the next one's.
type footprint struct {
	watch hoststate.Watch
	// ports are the TCP ports the guard refuses on the uplink.
	ports []int
}

func (c *Cluster) footprint(p render.Params) footprint {
	specs := c.harnessSpecs(p)
	env := c.enforcerEnv()
	env.Builder = c.builder()
	// The host's own footprint: what runs only inside namespace nodes
	// (kube-router's BGP ports) is the nodes', and the guard must not
	// refuse those ports on the host's uplink.
	env.Nodes = 1
	fp := []enforcer.Footprint{harnessFootprint}
	plugins := map[string]string{}
	for _, name := range enforcer.Names() {
		d, _ := enforcer.Get(name)
		specs = append(specs, d.Processes(env)...)
		fp = append(fp, d.Footprint())
		if pn, ok := d.(enforcer.PodNetwork); ok {
			for _, bin := range pn.CNIPlugins(env) {
				plugins[bin] = bin
			}
		}
	}
	var f footprint
	names := append([]string{}, runtimeHelpers...)
	for _, s := range specs {
		names = append(names, comm(s.Path))
		for _, addr := range s.Ports {
			if _, port, err := net.SplitHostPort(addr); err == nil {
				if n, err := strconv.Atoi(port); err == nil {
					f.ports = append(f.ports, n)
				}
			}
		}
	}
	for bin := range plugins {
		names = append(names, comm(bin))
	}
	for _, x := range fp {
		f.watch.Paths = append(f.watch.Paths, x.Paths...)
		f.watch.Sysctls = append(f.watch.Sysctls, x.Sysctls...)
		f.watch.Files = append(f.watch.Files, x.Files...)
	}
	f.watch.Processes = names
	for _, l := range []*[]string{&f.watch.Paths, &f.watch.Sysctls, &f.watch.Files, &f.watch.Processes} {
		slices.Sort(*l)
		*l = slices.Compact(*l)
	}
	slices.Sort(f.ports)
	f.ports = slices.Compact(f.ports)
	return f
}

// harnessSpecs are the cluster's own components, as `up` starts them.
func (c *Cluster) harnessSpecs(p render.Params) []proc.Spec {
	n := c.hostNode(p.NodeIP)
	return []proc.Spec{
		c.etcdSpec(), c.apiserverSpec(p), c.controllerManagerSpec(), c.schedulerSpec(),
		c.containerdSpec(n), c.kubeletSpec(n, p), c.kubeProxySpec(n),
	}
}

// comm is the name the kernel gives a process running path.
func comm(path string) string {
	n := filepath.Base(path)
	if len(n) > commLen {
		n = n[:commLen]
	}
	return n
}
