// Package enforcer holds the NetworkPolicy enforcers the local cluster can
// run, each a Driver. A driver says how to build its binary, which host
// processes to start, how to tell it is ready and which host changes of its
// own to undo; the harness does the starting, stopping and the generic
// netfilter cleanup. A driver may also bring its own pod network
// (PodNetwork) and API objects (Bootstrapper), as Calico does.
package enforcer

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"sort"

	"github.com/netpol-conformance/netpol-conformance/localcluster/gobuild"
	"github.com/netpol-conformance/netpol-conformance/localcluster/proc"
)

// Env is what a driver knows about the cluster it runs in.
type Env struct {
	Builder *gobuild.Builder
	// Kubeconfig authenticates as the enforcer's own identity, bound to a
	// read-only ClusterRole by the harness (and to the roles of its own
	// manifests by a Bootstrapper).
	Kubeconfig string
	// AdminKubeconfig authenticates as a cluster admin; only a
	// Bootstrapper uses it, to create the objects its enforcer needs.
	AdminKubeconfig string
	// EnforcerUser is the user name in Kubeconfig's client certificate.
	EnforcerUser string
	NodeName     string
	// NodeIP is the node's address: its fabric address on a namespace
	// node, the host's on the host node of a one-node cluster.
	NodeIP string
	// Nodes is how many nodes the cluster has: on more than one, every
	// node is a namespace node on the fabric, where whatever the enforcer
	// changes ends with the node.
	Nodes int
	// PodCIDR is the node's pod CIDR: on a namespace node the one the
	// controller manager gave it, set before the enforcer starts there.
	PodCIDR     string
	ClusterCIDR string
	ServiceCIDR string
	// StateDir holds the cluster's files; logs go to StateDir/logs.
	StateDir string
	// IPAMDataDir is where host-local IPAM keeps its leases.
	IPAMDataDir string
	// Command runs a program where the enforcer's processes run: on the
	// host, or inside their node of a multi-node cluster (whose network
	// namespace, netfilter and /proc/net are the node's own). Nil is the
	// host.
	Command func(ctx context.Context, name string, args ...string) *exec.Cmd
	// Dial connects as a process where the enforcer runs would: its
	// health endpoints listen on its node's loopback. Nil is the host's.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// LeakInjection asks a LeakInjector to run its enforcer so that a
	// rule inserted first in its LeakChain is evaluated before every rule
	// of the enforcer (`local up --leak-injection`).
	LeakInjection bool
}

// onFabric reports whether the cluster's nodes are namespace nodes on the
// fabric.
func (e Env) onFabric() bool { return e.Nodes > 1 }

// command runs name as Command says.
func (e Env) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	if e.Command == nil {
		return exec.CommandContext(ctx, name, args...)
	}
	return e.Command(ctx, name, args...)
}

// Driver is one NetworkPolicy enforcer.
type Driver interface {
	// Name is the value of `local up --enforcer`.
	Name() string
	// Enforces reports whether the driver enforces NetworkPolicy at all.
	Enforces() bool
	// Build builds or reuses the driver's binaries.
	Build(ctx context.Context, env Env) error
	// Processes are the host processes the harness starts, in order.
	Processes(env Env) []proc.Spec
	// Ready returns nil once the enforcer enforces.
	Ready(ctx context.Context, env Env) error
	// Cleanup undoes host changes of the driver that the harness's generic
	// cleanup (new iptables chains, nftables tables, ipsets) does not cover.
	Cleanup(ctx context.Context, env Env) error
	// Footprint is what of the host the enforcer changes beyond its
	// Processes, whose names and ports the harness reads from their specs.
	Footprint() Footprint
}

// Footprint is what an enforcer may change on the host whatever it is
// told. The harness's host snapshot watches the union of every driver's
// (a killed cluster's enforcer need not be the next one's), and `down`
// proves each restored.
type Footprint struct {
	// Paths are the host directories it creates.
	Paths []string
	// Sysctls are the kernel settings it may change, relative to /proc/sys.
	Sysctls []string
	// Files are host files it may write into whatever it is told, whose
	// content `down` proves unchanged.
	Files []string
}

// ClusterWidePolicies is implemented by a driver whose enforcer enforces
// a cluster-wide policy API of SIG Network's network-policy-api
// (AdminNetworkPolicy, ClusterNetworkPolicy). `local up` installs the
// CRDs its release understands before it starts the enforcer, so the
// cluster serves exactly the API the enforcer implements; a driver
// without it gets none, and the suite skips those families.
type ClusterWidePolicies interface {
	ClusterWideCRDs() CRDs
}

// CRDs are CustomResourceDefinition manifests shipped in a Go module, read
// from the module cache (downloaded like any module).
type CRDs struct {
	Module, Version string
	// Files are relative to the module's root.
	Files []string
}

// PodNetwork is implemented by a driver that wires pods with a CNI plugin
// of its own instead of the harness's bridge (the default for every other
// driver).
type PodNetwork interface {
	// CNIConflist is the conflist the harness writes in place of the
	// bridge's.
	CNIConflist(env Env) ([]byte, error)
	// CNIPlugins maps the plugin types of the conflist that Debian's
	// containernetworking-plugins lack to their binaries; the harness
	// links them into a CNI bin dir of its own next to Debian's.
	CNIPlugins(env Env) map[string]string
	// PodLinkPrefix starts the name of the host end of every pod link its
	// plugin creates; `down` deletes such links when they are new since
	// the snapshot and CNI DEL missed them.
	PodLinkPrefix() string
}

// NodePreparer is implemented by a driver that needs something of each
// namespace node (a route, a directory) before kubelet starts there.
// Everything it changes lives in the node's namespaces and ends with them.
// The host node of a one-node cluster is never prepared.
type NodePreparer interface {
	PrepareNode(ctx context.Context, env Env) error
}

// NodeRouter is implemented by a driver whose enforcer carries pods'
// traffic between the namespace nodes of a multi-node cluster by a
// mechanism of its own (kube-router's BGP routes, Calico's and Cilium's
// VXLAN tunnels),
// as it would between a real cluster's machines. The harness then gives
// the nodes no plain routes to each other's pod CIDRs (the host still gets
// its own), and once the enforcer is ready on every node it waits until
// each node knows every other (PeerKnown).
type NodeRouter interface {
	// BetweenNodes names the mechanism, for the log.
	BetweenNodes() string
	// PeerKnown is a command whose output, run in a node, is not empty
	// once the mechanism there carries traffic to the node at fabric
	// address peerIP with pod CIDR peerCIDR: enforcers install their
	// routes or tunnel endpoints some time after they report ready
	// (kube-router once its BGP sessions are up).
	PeerKnown(peerIP, peerCIDR string) []string
}

// NodeAnnotator is implemented by a driver whose enforcer reads facts of
// its node from annotations of the Node that, in a real cluster, the
// enforcer's own node agent writes when it starts (calico-node's startup:
// the node's address and its VXLAN tunnel address). The harness sets them
// as a cluster admin once the node is Ready, before the enforcer starts
// there.
type NodeAnnotator interface {
	NodeAnnotations(env Env) (map[string]string, error)
}

// Bootstrapper is implemented by a driver whose enforcer needs API objects
// of its own (CRDs, RBAC, datastore objects) before it or a pod starts. The
// harness calls Bootstrap once the API server is ready, before kubelet.
type Bootstrapper interface {
	Bootstrap(ctx context.Context, env Env) error
}

// Visible is implemented by a driver whose enforcer the suite names on its
// own from the cluster's objects (Calico's CRDs and ClusterInformation, as
// calico-node keeps them in a real cluster). Every other enforcer runs as a
// host process, invisible to detection, and the harness names it with
// NETPOL_CNI as a user would; for a Visible one it does not, so the
// detection itself is tested.
type Visible interface {
	VisibleInCluster()
}

// LeakInjector is implemented by a driver into whose datapath a fault can
// be injected: one iptables rule, first in LeakChain of the filter table,
// that accepts a random share of new pod flows whatever the policies say.
// It exists to measure that the suite catches a leaky enforcer
// (docs/reliability.md). A driver that rewrites or reorders that chain on
// every sync (kube-router moves its jump back to the top; kube-network-
// policies deletes and recreates its nftables table) cannot be one: the
// rule would not survive the next policy change. An accept in a separate
// nftables table cannot leak either, since another base chain's drop still
// applies.
type LeakInjector interface {
	LeakChain() string
}

var drivers = map[string]Driver{}

func register(d Driver) { drivers[d.Name()] = d }

// Get returns the driver called name.
func Get(name string) (Driver, error) {
	d, ok := drivers[name]
	if !ok {
		return nil, fmt.Errorf("unknown enforcer %q (known: %v)", name, Names())
	}
	return d, nil
}

// Names lists the registered drivers.
func Names() []string {
	var n []string
	for k := range drivers {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}
