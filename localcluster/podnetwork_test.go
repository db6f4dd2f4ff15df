package localcluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netpol-conformance/netpol-conformance/localcluster/enforcer"
	"github.com/netpol-conformance/netpol-conformance/localcluster/proc"
	"github.com/netpol-conformance/netpol-conformance/localcluster/render"
)

// ownNetwork is a driver with a CNI plugin of its own.
type ownNetwork struct{ plugin string }

func (ownNetwork) Name() string                                { return "own" }
func (ownNetwork) Enforces() bool                              { return true }
func (ownNetwork) Build(context.Context, enforcer.Env) error   { return nil }
func (ownNetwork) Footprint() enforcer.Footprint               { return enforcer.Footprint{} }
func (ownNetwork) Processes(enforcer.Env) []proc.Spec          { return nil }
func (ownNetwork) Ready(context.Context, enforcer.Env) error   { return nil }
func (ownNetwork) Cleanup(context.Context, enforcer.Env) error { return nil }
func (ownNetwork) CNIConflist(enforcer.Env) ([]byte, error)    { return []byte(`{"name":"own"}`), nil }
func (ownNetwork) PodLinkPrefix() string                       { return "own" }
func (o ownNetwork) CNIPlugins(enforcer.Env) map[string]string {
	return map[string]string{"own": o.plugin, "portmap": o.plugin}
}

func TestPodNetwork(t *testing.T) {
	dir := t.TempDir()
	debian := filepath.Join(dir, "usr-lib-cni")
	if err := os.MkdirAll(debian, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"host-local", "portmap", "bridge"} {
		if err := os.WriteFile(filepath.Join(debian, n), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c, err := New(Options{RepoRoot: dir, StateDir: filepath.Join(dir, "state")})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("the bridge stays the default", func(t *testing.T) {
		p := c.params("eth0", "192.0.2.2")
		p.CNIBinDir = debian
		if err := c.linkCNIPlugins(enforcer.None{}, enforcer.Env{}, &p); err != nil {
			t.Fatal(err)
		}
		got, err := podConflist(enforcer.None{}, enforcer.Env{}, p)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := render.CNI(p)
		if string(got) != string(want) || p.CNIBinDir != debian {
			t.Errorf("conflist %s in %s, want the bridge's in %s", got, p.CNIBinDir, debian)
		}
	})

	t.Run("a driver's own network", func(t *testing.T) {
		p := c.params("eth0", "192.0.2.2")
		p.CNIBinDir = debian
		plugin := filepath.Join(dir, "bin", "own")
		if err := c.linkCNIPlugins(ownNetwork{plugin: plugin}, enforcer.Env{}, &p); err != nil {
			t.Fatal(err)
		}
		got, err := podConflist(ownNetwork{plugin: plugin}, enforcer.Env{}, p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != `{"name":"own"}` {
			t.Errorf("conflist = %s", got)
		}
		if want := c.path("cni", "bin"); p.CNIBinDir != want {
			t.Fatalf("CNIBinDir = %s, want %s", p.CNIBinDir, want)
		}
		for name, target := range map[string]string{
			"own": plugin, "portmap": plugin, // the driver's wins
			"host-local": filepath.Join(debian, "host-local"), "bridge": filepath.Join(debian, "bridge"),
		} {
			if got, err := os.Readlink(filepath.Join(p.CNIBinDir, name)); err != nil || got != target {
				t.Errorf("%s -> %s (%v), want %s", name, got, err, target)
			}
		}
		// A second `up` relinks from scratch.
		p.CNIBinDir = debian
		if err := c.linkCNIPlugins(ownNetwork{plugin: plugin}, enforcer.Env{}, &p); err != nil {
			t.Fatalf("second linkCNIPlugins: %v", err)
		}
	})
}

// A driver that wires pods itself stops after the pods are removed (just
// before containerd); the others keep the reverse start order.
func TestStopAfterPods(t *testing.T) {
	order := []string{"cilium-agent", "kube-proxy", "kubelet", "containerd", "kube-scheduler", "etcd"}
	got := stopAfterPods(order, map[string]bool{"cilium-agent": true})
	want := []string{"kube-proxy", "kubelet", "cilium-agent", "containerd", "kube-scheduler", "etcd"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("stopAfterPods = %v, want %v", got, want)
	}
	// On namespace nodes every node's agent stops before the first
	// containerd: the pods of every node go then.
	nodes := []string{"calico-felix@n2", "calico-felix@n1", "kube-proxy@n2", "kubelet@n2", "kube-proxy@n1", "kubelet@n1", "containerd@n2", "containerd@n1", "etcd"}
	got = stopAfterPods(nodes, map[string]bool{"calico-felix@n1": true, "calico-felix@n2": true})
	want = []string{"kube-proxy@n2", "kubelet@n2", "kube-proxy@n1", "kubelet@n1", "calico-felix@n2", "calico-felix@n1", "containerd@n2", "containerd@n1", "etcd"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("stopAfterPods on nodes = %v, want %v", got, want)
	}
	if got := stopAfterPods(order, nil); strings.Join(got, " ") != strings.Join(order, " ") {
		t.Errorf("without late processes: %v, want %v", got, order)
	}
}
