package localcluster

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/netpol-conformance/netpol-conformance/localcluster/enforcer"
)

// The footprint is read from where each part is declared; these are what
// the hand-written lists it replaced held (and what they missed: Cilium's
// health port and kube-network-policies' metrics port were not guarded).
func TestFootprintHoldsEveryComponentAndEnforcer(t *testing.T) {
	dir := t.TempDir()
	c, err := New(Options{RepoRoot: dir, StateDir: filepath.Join(dir, "state")})
	if err != nil {
		t.Fatal(err)
	}
	p := c.params("eth0", "192.0.2.2")
	f := c.footprint(p)
	for _, port := range []int{2379, 2380, APIPort, 10248, 10249, 10250, 10256, 10257, 10259,
		enforcer.KubeRouterHealthPort, enforcer.CalicoHealthPort, enforcer.CiliumHealthPort, 9080} {
		if !slices.Contains(p.GuardPorts, port) {
			t.Errorf("the guard does not refuse port %d (guarded: %v)", port, p.GuardPorts)
		}
	}
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller", "kube-scheduler",
		"kubelet", "kube-proxy", "containerd", "containerd-shim", "runc", "pause",
		"kube-router", "kube-network-po", "calico-felix", "calico", "cilium-agent", "cilium-cni"} {
		if !slices.Contains(f.watch.Processes, name) {
			t.Errorf("process %s is not watched (watched: %v)", name, f.watch.Processes)
		}
	}
	for _, name := range enforcer.Names() {
		d, _ := enforcer.Get(name)
		for _, path := range d.Footprint().Paths {
			if !slices.Contains(f.watch.Paths, path) {
				t.Errorf("%s's path %s is not watched", name, path)
			}
		}
		for _, s := range d.Footprint().Sysctls {
			if !slices.Contains(f.watch.Sysctls, s) {
				t.Errorf("%s's sysctl %s is not watched", name, s)
			}
		}
	}
	for _, s := range []string{"net/ipv4/ip_forward", "net/netfilter/nf_conntrack_acct", "net/ipv4/conf/all/rp_filter"} {
		if !slices.Contains(f.watch.Sysctls, s) {
			t.Errorf("sysctl %s is not watched", s)
		}
	}
}

func TestComm(t *testing.T) {
	for in, want := range map[string]string{
		"/x/kube-network-policies":   "kube-network-po",
		"/x/kube-controller-manager": "kube-controller",
		"/usr/bin/etcd":              "etcd",
	} {
		if got := comm(in); got != want {
			t.Errorf("comm(%s) = %s, want %s", in, got, want)
		}
	}
}
