package enforcer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/netpol-conformance/netpol-conformance/localcluster/debpkg"
	"github.com/netpol-conformance/netpol-conformance/localcluster/gobuild"
	"github.com/netpol-conformance/netpol-conformance/localcluster/proc"
)

const (
	ciliumModule  = "github.com/cilium/cilium"
	ciliumVersion = "v1.20.2"
	// ciliumGoBGP is pinned by cilium's go.mod to a commit the module proxy
	// refuses (403 "This module version is not available"); v4.7.0, the
	// next release, is served and has the same go.mod. Only the BGP control
	// plane imports it, and it stays off here.
	ciliumGoBGP       = "github.com/osrg/gobgp/v4"
	ciliumGoBGPPinned = "v4.6.1-0.20260630022313-d6dee8360046"
	ciliumGoBGPServed = "v4.7.0"

	ciliumAgent = "cilium-agent"
	ciliumCNI   = "cilium-cni"
	// CiliumHealthPort is the agent's healthz port (its default), bound to
	// 127.0.0.1 by the agent.
	CiliumHealthPort = 9879
	// ciliumLLVMPath holds the clang and llc the agent compiles its BPF
	// datapath with at run time (debpkg's clang-19).
	ciliumLLVMPath = "/usr/lib/llvm-19/bin"
	// ciliumRunDir is hard-coded in the agent (its API socket, which the
	// CNI plugin dials, the shell and monitor sockets, the pid file).
	ciliumRunDir = "/run/cilium"
	// ciliumAgentRole is the agent's ClusterRole in the Helm chart.
	ciliumAgentRoleTemplate = "install/kubernetes/cilium/templates/cilium-agent/clusterrole.yaml"
	ciliumAgentRole         = "cilium"
	ciliumCRDDir            = "pkg/k8s/apis/cilium.io/client/crds"
	// CiliumVXLANPort is the UDP port of its VXLAN tunnel (its default).
	CiliumVXLANPort = 8472
)

// Cilium runs cilium-agent v1.20.2 as a host process with its eBPF
// datapath: between the namespace nodes of a multi-node cluster its VXLAN
// tunnel (Geneve is not in this kernel), on the one node of a one-node
// cluster native routing; Kubernetes IPAM on the node's podCIDR, kube-proxy kept (no kube-proxy replacement), no masquerading,
// no L7 proxy, no Hubble, no health endpoints, attached to no native
// device. Pods are wired by Cilium's own CNI plugin (lxc* veths); policy
// is enforced by the BPF programs on those veths.
type Cilium struct{}

func init() { register(Cilium{}) }

// It carries pods between namespace nodes itself.
var _ NodeRouter = Cilium{}

func (Cilium) Name() string   { return "cilium" }
func (Cilium) Enforces() bool { return true }

func (Cilium) src(env Env) string {
	return filepath.Join(env.Builder.SrcDir, filepath.Base(ciliumModule)+"@"+ciliumVersion)
}

// Build installs clang-19 when missing and builds the agent and the CNI
// plugin from a copy of Cilium's module, with gobgp replaced (above).
func (Cilium) Build(ctx context.Context, env Env) error {
	b := env.Builder
	if err := debpkg.EnsureFor(debpkg.Cilium, b.Log); err != nil {
		return err
	}
	_, err := b.Module(ctx, gobuild.ModuleBuild{
		Module:  ciliumModule,
		Version: ciliumVersion,
		Package: "./daemon",
		Name:    ciliumAgent,
		Extra:   []gobuild.Binary{{Package: "./plugins/cilium-cni", Name: ciliumCNI}},
		LDFlags: "-X github.com/cilium/cilium/pkg/version.ciliumVersion=" + strings.TrimPrefix(ciliumVersion, "v"),
		Patch: func(dir string) error {
			cmd := exec.CommandContext(ctx, "go", "mod", "edit", "-replace",
				ciliumGoBGP+"@"+ciliumGoBGPPinned+"="+ciliumGoBGP+"@"+ciliumGoBGPServed)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("go mod edit: %w: %s", err, out)
			}
			return nil
		},
		PatchID: "replace:" + ciliumGoBGP + "@" + ciliumGoBGPServed,
	})
	if err != nil {
		return fmt.Errorf("building cilium: %w", err)
	}
	return nil
}

// nodeDir holds one node's agent state and bpffs: every node runs its own
// agent, whose endpoints, identities cache and pinned maps are that node's.
// A namespace node's bpffs is mounted in its own mount namespace and ends
// with it; the host node's is unmounted by `down` with the other mounts
// below the state dir.
func (Cilium) nodeDir(env Env) string {
	return filepath.Join(env.StateDir, "cilium", "nodes", env.NodeName)
}

func (c Cilium) Processes(env Env) []proc.Spec {
	dir := c.nodeDir(env)
	spec := proc.Spec{
		Name: ciliumAgent,
		Path: filepath.Join(env.Builder.BinDir, ciliumAgent),
		Args: []string{
			"--k8s-kubeconfig-path=" + env.Kubeconfig,
			// The BPF sources (bpf/) of the module copy; compiled at run time.
			"--lib-dir=" + c.src(env),
			"--state-dir=" + filepath.Join(dir, "state"),
			// The agent mounts a bpffs here (nodeDir).
			"--bpf-root=" + filepath.Join(dir, "bpffs"),
			// The existing cgroup2 mount of this v1/v2 hybrid host.
			"--cgroup-root=/sys/fs/cgroup/unified",
			"--cluster-name=default",
			"--identity-allocation-mode=crd",
			"--ipam=kubernetes",
			"--k8s-require-ipv4-pod-cidr",
			"--enable-ipv4", "--enable-ipv6=false",
			"--enable-ipv4-masquerade=false", "--enable-bpf-masquerade=false",
			"--kube-proxy-replacement=false",
			// No native device: nothing is attached to the uplink. A name
			// that matches no link turns auto-detection off.
			"--devices=netpol-none",
			"--mtu=1400",
			"--enable-policy=default",
			"--enable-l7-proxy=false",
			"--enable-hubble=false",
			"--enable-gops=false",
			"--enable-health-checking=false",
			"--enable-endpoint-health-checking=false",
			fmt.Sprintf("--agent-health-port=%d", CiliumHealthPort),
		},
		Env: []string{
			"PATH=" + ciliumLLVMPath + ":" + os.Getenv("PATH"),
			"K8S_NODE_NAME=" + env.NodeName,
		},
		Ports: []string{fmt.Sprintf("127.0.0.1:%d", CiliumHealthPort)},
	}
	spec.Args = append(spec.Args, c.routingMode(env)...)
	return []proc.Spec{spec}
}

// routingMode is the agent's datapath between nodes (Cilium doc above).
func (Cilium) routingMode(env Env) []string {
	if env.onFabric() {
		return []string{"--routing-mode=tunnel", "--tunnel-protocol=vxlan", fmt.Sprintf("--tunnel-port=%d", CiliumVXLANPort)}
	}
	return []string{"--routing-mode=native", "--ipv4-native-routing-cidr=" + env.ClusterCIDR}
}

// BetweenNodes: the VXLAN tunnel of every namespace node (routingMode).
func (Cilium) BetweenNodes() string { return "Cilium's VXLAN tunnel" }

// PeerKnown: the route the agent installs for the peer's pod CIDR through
// cilium_host, where its BPF program encapsulates.
func (Cilium) PeerKnown(_, peerCIDR string) []string {
	return []string{"ip", "-4", "route", "show", "exact", peerCIDR, "dev", "cilium_host"}
}

// Ready waits for the agent's healthz to report Ok.
func (Cilium) Ready(ctx context.Context, env Env) error {
	return waitHealthy(ctx, env, "cilium-agent", fmt.Sprintf("http://127.0.0.1:%d/healthz", CiliumHealthPort), 250*time.Millisecond)
}

func (Cilium) CNIConflist(env Env) ([]byte, error) {
	conf := map[string]any{
		"cniVersion": "0.3.1",
		"name":       "cilium",
		"plugins": []any{
			map[string]any{
				"type":         ciliumCNI,
				"enable-debug": false,
				"log-file":     filepath.Join(env.StateDir, "logs", "cilium-cni.log"),
			},
			map[string]any{
				"type":         "portmap",
				"snat":         true,
				"capabilities": map[string]any{"portMappings": true},
			},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding cilium conflist: %w", err)
	}
	return append(b, '\n'), nil
}

func (Cilium) CNIPlugins(env Env) map[string]string {
	return map[string]string{ciliumCNI: filepath.Join(env.Builder.BinDir, ciliumCNI)}
}

// PodLinkPrefix: the CNI plugin names the host end of each pod's veth lxc*.
func (Cilium) PodLinkPrefix() string { return "lxc" }

// Cleanup deletes the agent's own links (cilium_host and its peer
// cilium_net), which the agent leaves on purpose so that a restart keeps
// the datapath. Its iptables chains (CILIUM_*) go with the generic
// netfilter cleanup, its bpffs with the mounts below the state dir,
// /run/cilium with the snapshot's paths, the sysctls it sets with the
// snapshot's sysctls (except kernel.unprivileged_bpf_disabled: see
// docs/local-cluster.md).

func (Cilium) Cleanup(context.Context, Env) error {
	var errs []error
	for _, l := range []string{"cilium_host", "cilium_vxlan"} {
		if exec.Command("ip", "link", "show", l).Run() != nil {
			continue
		}
		if out, err := exec.Command("ip", "link", "del", l).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("deleting link %s: %w: %s", l, err, out))
		}
	}
	return errors.Join(errs...)
}

// Footprint: the agent hard-codes its API socket (which its CNI plugin
// dials), shell and monitor sockets and pid file in /run/cilium, and sets
// its base datapath's sysctls (kernel.unprivileged_bpf_disabled too, to 1,
// which cannot be set back once 1: docs/local-cluster.md).
func (Cilium) Footprint() Footprint {
	return Footprint{
		Paths: []string{ciliumRunDir},
		Sysctls: []string{
			"net/core/bpf_jit_enable", "net/ipv4/conf/all/rp_filter",
			"net/ipv4/fib_multipath_use_neigh", "kernel/timer_migration",
		},
	}
}

// ciliumAgentRoleObject reads the agent's ClusterRole from the Helm
// chart's template: the template lines ({{ … }}, and the template comment)
// are dropped, so every conditional block of rules is kept.
func ciliumAgentRoleObject(tmpl []byte) (*unstructured.Unstructured, error) {
	var keep []string
	inComment := false
	for _, l := range strings.Split(string(tmpl), "\n") {
		switch {
		case inComment:
			inComment = !strings.Contains(l, "*/")
			continue
		case strings.Contains(l, "{{- /*") || strings.Contains(l, "{{/*"):
			inComment = !strings.Contains(l, "*/")
			continue
		case strings.Contains(l, "{{"):
			continue
		}
		keep = append(keep, l)
	}
	objs, err := splitManifest(ciliumAgentRoleTemplate, []byte(strings.Join(keep, "\n")))
	if err != nil {
		return nil, err
	}
	if len(objs) != 1 || objs[0].GetKind() != "ClusterRole" || objs[0].GetName() != ciliumAgentRole {
		return nil, fmt.Errorf("%s: expected the ClusterRole %s", ciliumAgentRoleTemplate, ciliumAgentRole)
	}
	objs[0].SetAnnotations(nil)
	return objs[0], nil
}

// Bootstrap applies Cilium's CRDs (the agent waits for them; its operator,
// which would register them, does not run here) and the agent's
// ClusterRole bound to the enforcer's identity. It first clears every
// node's agent state (of this cluster's nodes and of earlier ones): `down`
// removed the datapath those endpoints would be restored to.
func (c Cilium) Bootstrap(ctx context.Context, env Env) error {
	old, err := filepath.Glob(filepath.Join(env.StateDir, "cilium", "nodes", "*", "state"))
	if err != nil {
		return err
	}
	for _, d := range append(old, filepath.Join(env.StateDir, "cilium", "state")) {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("clearing cilium-agent's state: %w", err)
		}
	}
	dir, err := env.Builder.ModuleDir(ctx, ciliumModule, ciliumVersion)
	if err != nil {
		return err
	}
	var objs []*unstructured.Unstructured
	for _, v := range []string{"v2", "v2alpha1"} {
		files, err := filepath.Glob(filepath.Join(dir, ciliumCRDDir, v, "*.yaml"))
		if err != nil || len(files) == 0 {
			return fmt.Errorf("no CRDs in %s/%s of %s@%s", ciliumCRDDir, v, ciliumModule, ciliumVersion)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			docs, err := splitManifest(f, data)
			if err != nil {
				return err
			}
			for _, o := range docs {
				if o.GetKind() != "CustomResourceDefinition" {
					return fmt.Errorf("%s: unexpected %s", f, o.GetKind())
				}
				objs = append(objs, o)
			}
		}
	}
	tmpl, err := os.ReadFile(filepath.Join(dir, ciliumAgentRoleTemplate))
	if err != nil {
		return err
	}
	role, err := ciliumAgentRoleObject(tmpl)
	if err != nil {
		return err
	}
	objs = append(objs, role, clusterRoleBinding("netpol-local:"+ciliumAgentRole, ciliumAgentRole, env.EnforcerUser))
	dyn, err := adminClient(env)
	if err != nil {
		return err
	}
	return applyEstablished(ctx, dyn, objs)
}
