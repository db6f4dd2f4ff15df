package enforcer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/netpol-conformance/netpol-conformance/localcluster/gobuild"
	"github.com/netpol-conformance/netpol-conformance/localcluster/proc"
)

// Calico is pinned by pseudo-version: its v3.x tags do not resolve as Go
// module versions (the module path has no /v3), and @latest is a v3.28
// branch commit (docs/local-cluster.md, Calico's "Build").
const (
	calicoModule = "github.com/projectcalico/calico"
	// calicoVersion is the v3.31.0 release commit; its manifests name
	// quay.io/calico/node:v3.31.0.
	calicoVersion = "v0.0.0-20251021213802-b1f3c43f8437"
	calicoRelease = "v3.31.0"
	// calicoCommit is the commit of calicoVersion, as `go mod download
	// -json` reports it in Origin.Hash; calicoBuildDate is its commit time,
	// the timestamp of the pseudo-version.
	calicoCommit    = "b1f3c43f84370504e218eb5be8a34c81348f866a"
	calicoBuildDate = "2025-10-21T21:38:02Z"
	// The nested modules that calico's go.mod replaces with ./api,
	// ./lib/std and ./lib/httpmachinery are not in its module zip.
	calicoAPIModule  = "github.com/projectcalico/api"
	calicoAPIVersion = "v0.0.0-20251022175904-f2ab03771208"
	calicoStdModule  = calicoModule + "/lib/std"
	// calicoHTTPMachinery is on no proxy; neither Felix nor the CNI plugin
	// imports it, so a go.mod alone satisfies the replace line.
	calicoHTTPMachinery = calicoModule + "/lib/httpmachinery"

	// CalicoHealthPort is Felix's health port (its default), bound to
	// 127.0.0.1 here.
	CalicoHealthPort = 9099
	// calicoFelix and calicoCNI are the binaries in the bin dir. The CNI
	// plugin must be called "calico": it picks plugin or IPAM by argv[0].
	calicoFelix = "calico-felix"
	calicoCNI   = "calico"
	// calicoTag marks every iptables rule Felix writes (`-m comment
	// --comment "cali:<hash>"`) and prefixes its chains, ipsets and links.
	calicoTag = "cali"
)

// Calico runs Calico's Felix (v3.31.0, iptables dataplane on iptables-nft,
// Kubernetes datastore, no Typha, no BGP, no Calico IPAM) as a host process,
// and wires pods with Calico's own CNI plugin instead of the bridge: pods get
// cali* veths with /32 routes and proxy-ARP, and Felix's policy sits on those
// veths. Denied traffic is dropped, so blocked connections time out.
// Between the namespace nodes of a multi-node cluster, pods' traffic goes
// through Felix's VXLAN tunnel (calicoVXLAN); on the one node of a one-node
// cluster there is none.
type Calico struct{}

func init() { register(Calico{}) }

// It carries pods between namespace nodes itself.
var (
	_ NodeRouter    = Calico{}
	_ NodeAnnotator = Calico{}
)

func (Calico) Name() string   { return "calico" }
func (Calico) Enforces() bool { return true }

func (Calico) felix(env Env) string { return filepath.Join(env.Builder.BinDir, calicoFelix) }

// calicoLDFlags set Calico's buildinfo, which its Makefile fills from git:
// without them Felix reports an empty version.
func calicoLDFlags() string {
	pkg := calicoModule + "/pkg/buildinfo"
	return "-X " + pkg + ".Version=" + calicoRelease +
		" -X " + pkg + ".GitRevision=" + calicoCommit +
		" -X " + pkg + ".BuildDate=" + calicoBuildDate
}

// calicoHTTPMachineryGoMod is the stub go.mod of lib/httpmachinery.
func calicoHTTPMachineryGoMod() []byte {
	return []byte("// A stub written by netpol-conformance: this nested module of Calico is on\n" +
		"// no module proxy, and neither Felix nor the CNI plugin imports it.\n" +
		"module " + calicoHTTPMachinery + "\n\ngo 1.24\n")
}

// Build builds Felix and the CNI plugin from one copy of Calico's module
// in which it fills the nested modules the module zip lacks: api/ from
// github.com/projectcalico/api, lib/std/ from calico/lib/std at the same
// pseudo-version, and a stub go.mod in lib/httpmachinery/.
func (Calico) Build(ctx context.Context, env Env) error {
	b := env.Builder
	_, err := b.Module(ctx, gobuild.ModuleBuild{
		Module:  calicoModule,
		Version: calicoVersion,
		Package: "./felix/cmd/calico-felix",
		Name:    calicoFelix,
		Extra:   []gobuild.Binary{{Package: "./cni-plugin/cmd/calico", Name: calicoCNI}},
		LDFlags: calicoLDFlags(),
		Patch: func(dir string) error {
			if err := b.CopyModule(ctx, calicoAPIModule, calicoAPIVersion, filepath.Join(dir, "api")); err != nil {
				return err
			}
			if err := b.CopyModule(ctx, calicoStdModule, calicoVersion, filepath.Join(dir, "lib", "std")); err != nil {
				return err
			}
			stub := filepath.Join(dir, "lib", "httpmachinery", "go.mod")
			if err := os.MkdirAll(filepath.Dir(stub), 0o755); err != nil {
				return fmt.Errorf("creating %s: %w", filepath.Dir(stub), err)
			}
			return os.WriteFile(stub, calicoHTTPMachineryGoMod(), 0o644)
		},
		PatchID: "nested:" + calicoAPIModule + "@" + calicoAPIVersion + "," + calicoStdModule + ",httpmachinery-stub",
	})
	if err != nil {
		return fmt.Errorf("building calico: %w", err)
	}
	return nil
}

func (c Calico) Processes(env Env) []proc.Spec {
	return []proc.Spec{{
		Name: calicoFelix,
		Path: c.felix(env),
		// An absent config file is ignored; naming one in the state dir
		// keeps a host's /etc/calico/felix.cfg out of the run.
		Args:  []string{"--config-file=" + filepath.Join(env.StateDir, "calico", "felix.cfg")},
		Env:   felixEnv(env),
		Ports: []string{fmt.Sprintf("127.0.0.1:%d", CalicoHealthPort)},
	}}
}

// felixEnv is Felix's configuration (docs/local-cluster.md, Calico's
// "Felix"); Felix reads FELIX_<param> case-insensitively.
func felixEnv(env Env) []string {
	vars := []string{
		"DATASTORE_TYPE=kubernetes",
		"KUBECONFIG=" + env.Kubeconfig,
		"FELIX_FELIXHOSTNAME=" + env.NodeName,
		// iptables here is iptables-nft; Felix's native nftables mode and
		// its BPF dataplane stay off.
		"FELIX_IPTABLESBACKEND=NFT",
		"FELIX_NFTABLESMODE=Disabled",
		"FELIX_BPFENABLED=false",
		// XDP acceleration turns itself on when bpftool is on the PATH, and
		// then fails every update here: pods stop reaching each other
		// before any policy (docs/local-cluster.md). Nothing here needs it.
		"FELIX_XDPENABLED=false",
		"FELIX_IPV6SUPPORT=false",
		// Felix would turn VXLAN on by itself from the IP pool; on the
		// host node it stays off whatever the datastore holds.
		fmt.Sprintf("FELIX_VXLANENABLED=%t", env.onFabric()),
		// Routes to pods come from their IPs (host-local IPAM), not from
		// Calico IPAM blocks, which do not exist here.
		"FELIX_ROUTESOURCE=WorkloadIPs",
		// The node (kubelet's probes) may reach its pods; NetworkPolicy
		// does not govern host-to-pod traffic of the pod's own node.
		"FELIX_DEFAULTENDPOINTTOHOSTACTION=ACCEPT",
		"FELIX_HEALTHENABLED=true",
		"FELIX_HEALTHHOST=127.0.0.1",
		fmt.Sprintf("FELIX_HEALTHPORT=%d", CalicoHealthPort),
		"FELIX_PROMETHEUSMETRICSENABLED=false",
		// Nothing may leave the machine: no usage reports to projectcalico.org.
		"FELIX_USAGEREPORTINGENABLED=false",
		// Logs go to stdout (the harness's log file), not /var/log/calico
		// or syslog.
		"FELIX_LOGSEVERITYSCREEN=Info",
		"FELIX_LOGFILEPATH=none",
		"FELIX_LOGSEVERITYSYS=none",
		// Endpoint status files (default /var/run/calico) serve only the
		// CNI plugin's policy_setup_timeout_seconds, unset here; "none"
		// is Felix's spelling of the empty value, which disables them.
		"FELIX_ENDPOINTSTATUSPATHPREFIX=none",
		// Exact case: Felix reads this one with os.Getenv. Without it a
		// static, cgo-free Felix panics in BPF cleanup code and leaves
		// bpffs mounted on /sys/fs/bpf (docs/local-cluster.md, Calico's "Felix").
		"FELIX_DebugSkipCTLBCleanup=true",
	}
	if env.LeakInjection {
		// Felix's jumps go last in FORWARD, after any rule inserted before
		// them, and stay there (in the default Insert mode Felix moves
		// them back to the top). kube-proxy's own FORWARD rules then come
		// first too; that is why this is not the default.
		vars = append(vars, "FELIX_CHAININSERTMODE=Append")
	}
	return vars
}

// calicoVXLAN: between namespace nodes Felix carries pods' traffic in its
// VXLAN tunnel (vxlan.calico, UDP 4789), as a Calico cluster with an IP pool
// of vxlanMode Always does: each node's VTEP is its address and a tunnel
// address, which calico-node's startup allocates by Calico IPAM and
// publishes as annotations of the Node. Here the harness publishes them
// (NodeAnnotations) and the tunnel address is the first address of the
// node's pod CIDR, the gateway host-local IPAM never gives a pod. Felix
// routes every remote pod's /32 (FELIX_ROUTESOURCE=WorkloadIPs) through
// the tunnel. Traffic the node itself sends to a remote pod leaves with
// the tunnel address as its source, as on any Calico VXLAN cluster.
const (
	calicoIPv4AddressAnnotation = "projectcalico.org/IPv4Address"
	calicoVXLANAddrAnnotation   = "projectcalico.org/IPv4VXLANTunnelAddr"
	calicoVXLANDevice           = "vxlan.calico"
)

// NodeAnnotations are calico-node's startup's on a namespace node: its
// address (as a /32: the pool's vxlanMode is Always, so Felix never
// compares subnets) and its VXLAN tunnel address (calicoVXLAN).
func (Calico) NodeAnnotations(env Env) (map[string]string, error) {
	if !env.onFabric() {
		return nil, nil
	}
	tunnel, err := calicoTunnelAddr(env.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", env.NodeName, err)
	}
	return map[string]string{
		calicoIPv4AddressAnnotation: env.NodeIP + "/32",
		calicoVXLANAddrAnnotation:   tunnel,
	}, nil
}

// calicoTunnelAddr is the first address of podCIDR.
func calicoTunnelAddr(podCIDR string) (string, error) {
	p, err := netip.ParsePrefix(podCIDR)
	if err != nil {
		return "", fmt.Errorf("pod CIDR %q: %w", podCIDR, err)
	}
	return p.Masked().Addr().Next().String(), nil
}

// BetweenNodes: Felix's VXLAN tunnel (calicoVXLAN).
func (Calico) BetweenNodes() string { return "Calico's VXLAN tunnel" }

// PeerKnown: the permanent neighbour entry Felix writes for the peer's
// VTEP. Routes come per remote pod, so none may exist before the first.
func (Calico) PeerKnown(_, peerCIDR string) []string {
	tunnel, err := calicoTunnelAddr(peerCIDR)
	if err != nil {
		// The harness gives a parsed CIDR; an empty command never passes.
		return nil
	}
	return []string{"ip", "-4", "neigh", "show", tunnel, "dev", calicoVXLANDevice, "nud", "permanent"}
}

// VisibleInCluster: the suite detects Calico from its CRDs and
// ClusterInformation, which Bootstrap creates.
func (Calico) VisibleInCluster() {}

// LeakChain is where Calico's policy is reached from: filter FORWARD, for
// pod-to-pod traffic routed through the node.
func (Calico) LeakChain() string { return "FORWARD" }

// Ready waits for Felix's readiness endpoint, which turns 200 once Felix is
// in sync with the datastore and has programmed the dataplane.
func (Calico) Ready(ctx context.Context, env Env) error {
	return waitHealthy(ctx, env, "felix", fmt.Sprintf("http://127.0.0.1:%d/readiness", CalicoHealthPort), 250*time.Millisecond)
}

// CNIConflist is the conflist of Calico's CNI plugin (docs/local-cluster.md,
// Calico's "Pods"), shaped like the one calico-policy-only.yaml installs: host-local
// IPAM on the node's podCIDR, Kubernetes policy, then portmap.
func (Calico) CNIConflist(env Env) ([]byte, error) {
	conf := map[string]any{
		"cniVersion": "0.3.1",
		"name":       "k8s-pod-network",
		"plugins": []any{
			map[string]any{
				"type":           calicoCNI,
				"log_level":      "info",
				"log_file_path":  filepath.Join(env.StateDir, "logs", "calico-cni.log"),
				"datastore_type": "kubernetes",
				// No calico/node writes /var/lib/calico/nodename here.
				"nodename":               env.NodeName,
				"nodename_file_optional": true,
				"mtu":                    calicoPodMTU(env),
				"ipam": map[string]any{
					"type": "host-local",
					// Replaced by the node's spec.podCIDR before the
					// IPAM plugin runs; dataDir passes through to it.
					"subnet":  "usePodCidr",
					"dataDir": env.IPAMDataDir,
				},
				"policy":     map[string]any{"type": "k8s"},
				"kubernetes": map[string]any{"kubeconfig": env.Kubeconfig},
			},
			map[string]any{
				"type": "portmap",
				// Applies only to hostPort traffic; the guard keeps it on
				// the machine.
				"snat":         true,
				"capabilities": map[string]any{"portMappings": true},
			},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding calico conflist: %w", err)
	}
	return append(b, '\n'), nil
}

// calicoPodMTU is the pods' MTU: the fabric's and the host's 1500, less
// VXLAN's 50 bytes of headers between namespace nodes (what Felix gives
// vxlan.calico), so that no pod sends what the tunnel cannot carry.
func calicoPodMTU(env Env) int {
	if env.onFabric() {
		return 1500 - 50
	}
	return 1500
}

// calicoGateway is the next hop Calico's CNI plugin gives every pod: no
// host has it; the node's end of the pod's veth answers ARP for it by
// proxy ARP.
const calicoGateway = "169.254.1.1"

// PrepareNode makes the pods' gateway routable inside a namespace node:
// the kernel answers a proxy ARP only for an address it has a unicast
// route to, and a namespace node has no default route (nothing may leave
// the machine). Without this, pods on the node never learn their
// gateway's MAC and send nothing. A route through lo keeps anything sent
// to the gateway itself on the node.
func (Calico) PrepareNode(ctx context.Context, env Env) error {
	if env.Command == nil {
		// The host has a default route and needs none of this; a route
		// on it would outlive the cluster.
		return fmt.Errorf("preparing node %s: no node namespace to run in", env.NodeName)
	}
	out, err := env.command(ctx, "ip", "route", "replace", calicoGateway+"/32", "dev", "lo").CombinedOutput()
	if err != nil {
		return fmt.Errorf("routing calico's pod gateway %s on node %s: %w: %s", calicoGateway, env.NodeName, err, out)
	}
	return nil
}

// CNIPlugins adds the CNI plugin to the Debian plugins (portmap, host-local).
func (Calico) CNIPlugins(env Env) map[string]string {
	return map[string]string{calicoCNI: filepath.Join(env.Builder.BinDir, calicoCNI)}
}

// PodLinkPrefix: the CNI plugin names the host end of each pod's veth
// cali + 11 hex characters.
func (Calico) PodLinkPrefix() string { return calicoTag }

// Cleanup has nothing of its own to do. Everything Felix and the CNI plugin
// leave is new since the snapshot and goes with the harness's cleanup: its
// iptables rules (each tagged "cali:") and cali-* chains, its cali* ipsets,
// cali* links a missed CNI DEL left (PodLinkPrefix), /var/lib/calico
// and nf_conntrack_acct, which Felix sets to 1 (both in Footprint). A bpffs
// left on /sys/fs/bpf, which FELIX_DebugSkipCTLBCleanup prevents, would
// show in the mounts diff.
func (Calico) Cleanup(context.Context, Env) error { return nil }

// Footprint: Felix writes /var/lib/calico/mtu whatever it is told; the
// other directories are Calico's defaults for logs and run files, which the
// driver moves to the state dir (a leftover there is a missed setting).
func (Calico) Footprint() Footprint {
	return Footprint{
		Paths:   []string{"/var/lib/calico", "/run/calico", "/var/log/calico", "/etc/calico"},
		Sysctls: []string{"net/netfilter/nf_conntrack_acct"},
	}
}

// ClusterWideCRDs are the AdminNetworkPolicy and BaselineAdminNetworkPolicy
// CRDs (network-policy-api v0.1.1, experimental channel) that Calico v3.31
// ships in crds.yaml: Felix watches both kinds itself in Kubernetes
// datastore mode and turns them into its adminnetworkpolicy and
// baselineadminnetworkpolicy tiers (docs/cluster-wide.md). It implements
// no ClusterNetworkPolicy.
func (Calico) ClusterWideCRDs() CRDs {
	return CRDs{Module: calicoModule, Version: calicoVersion, Files: []string{calicoCRDsManifest}}
}
