package enforcer

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/netpol-conformance/netpol-conformance/localcluster/gobuild"
	"github.com/netpol-conformance/netpol-conformance/localcluster/proc"
)

const (
	knpModule = "sigs.k8s.io/kube-network-policies"
	// knpVersion is the release of the default driver, kube-network-
	// policies: NetworkPolicy only, and stable under the suite's probe
	// bursts on two cores (queues only policy-selected Pods' connections).
	knpVersion = "v0.8.0"
	// knpCNPRelease is the release of kube-network-policies-cnp, the
	// opt-in driver with ClusterNetworkPolicy.
	knpCNPRelease = "v1.1.1"
	// knpCNPAPIVersion is the ClusterNetworkPolicy version its package
	// watches (npa-v1alpha2's informer: Policy().V1alpha2()).
	knpCNPAPIVersion = "v1alpha2"
	// knpQueueID is upstream's default --nfqueue-id, passed explicitly
	// because Ready looks for a listener on it.
	knpQueueID = 100
	// knpTable is the inet table it programs (upstream's NFTableName
	// default, not a flag), in both releases.
	knpTable = "kube-network-policies"
	// knpDNSTable is the inet table of its DNS agent, which npa-v1alpha2
	// always runs (it resolves domainNames peers from the DNS answers it
	// reads on queue knpQueueID+1). v0.8.0 runs it only with
	// --admin-network-policy, which the local cluster does not pass.
	knpDNSTable = "kube-network-policies-dnscache"
	// knpMetricsAddr keeps its metrics server off the uplink (upstream
	// listens on :9080).
	knpMetricsAddr = "127.0.0.1:9080"
	// nfqueueProcFile lists the bound NFQUEUE queues of the host's
	// network namespace, one line per queue, its number first.
	nfqueueProcFile = "/proc/net/netfilter/nfnetlink_queue"
)

// knpCRDs is where the ClusterNetworkPolicy CRD comes from: network-policy-
// api v0.3.0, the version our go.mod pins for the suite's model; its
// experimental channel, because the cases use its nodes peers and named
// ports (the standard channel has neither).
var knpCRDs = CRDs{
	Module:  "sigs.k8s.io/network-policy-api",
	Version: "v0.3.0",
	Files:   []string{"config/crd/experimental/policy.networking.k8s.io_clusternetworkpolicies.yaml"},
}

// knpPatch is our patch to v0.8.0; its header gives each hunk's reason.
//
//go:embed patches/kube-network-policies-v0.8.0.patch
var knpPatch []byte

// knpCNPPatch is our patch to v1.1.1; its header gives each hunk's reason.
//
//go:embed patches/kube-network-policies-v1.1.1.patch
var knpCNPPatch []byte

// knpRelease is all that differs between the two kube-network-policies
// drivers; everything else (the table, the queue, Ready, Cleanup, the
// metrics address, the process) is the same in both releases.
type knpRelease struct {
	// name is the driver's, and its binary's in env.Builder.BinDir: the
	// two drivers' builds must not overwrite each other.
	name    string
	version string
	// pkg is the main package, relative to the module root.
	pkg string
	// patchFile (under patches/) is what patch holds.
	patchFile string
	patch     []byte
	// flags go after the shared --fail-open=false, in this order.
	flags []string
}

// knpDefault is v0.8.0's ./cmd: NetworkPolicy only, no cluster-wide API.
//
// As released it does not run here (docs/local-cluster.md): its nftables
// rules use the `queue` statement and this kernel lacks CONFIG_NFT_QUEUE,
// and its main only knows the in-cluster config. Our minimal patch
// (patches/kube-network-policies-v0.8.0.patch): the same rules with the
// xtables NFQUEUE target through nft_compat, and a --kubeconfig flag.
var knpDefault = knpRelease{
	name:      "kube-network-policies",
	version:   knpVersion,
	pkg:       "./cmd",
	patchFile: "kube-network-policies-v0.8.0.patch",
	patch:     knpPatch,
}

// knpCNP is v1.1.1's npa-v1alpha2, the main of upstream's install-cnp.yaml
// (image kube-network-policies:v1.1.0-npa-v1alpha2): NetworkPolicy between
// ClusterNetworkPolicy's Admin and Baseline tiers, watched as
// policy.networking.k8s.io/v1alpha2. (./cmd/kube-network-policies/standard
// has no cluster-wide policy; npa-v1alpha1 has AdminNetworkPolicy.) With
// ClusterNetworkPolicy on it queues every connection the node forwards or
// opens, not only those of Pods a policy selects (npa-v1alpha2's
// ManagedIPs: divert all), except those of root-owned sockets on the node
// (`meta skuid 0 accept`, so kubelet's probes pass): on two cores its
// queue overflows under the suite's probe bursts ("user dropped" in
// nfnetlink_queue), which is why it is not the default.
//
// As released it does not enforce here (docs/local-cluster.md): its
// nftables rules use the `queue` statement and this kernel lacks
// CONFIG_NFT_QUEUE; and it marks an accepted connection with a conntrack
// label carried by the verdict, which this kernel (no
// CONFIG_NETFILTER_NETLINK_GLUE_CT) ignores, so every later packet of the
// connection, replies included, would be judged as a new one. Our minimal
// patch (patches/kube-network-policies-v1.1.1.patch): the same rules with
// the xtables NFQUEUE target through nft_compat, and the label set by the
// chain on the accepted packet's way back (NF_REPEAT with a mark) instead
// of by the verdict.
var knpCNP = knpRelease{
	name:      "kube-network-policies-cnp",
	version:   knpCNPRelease,
	pkg:       "./cmd/kube-network-policies/npa-v1alpha2",
	patchFile: "kube-network-policies-v1.1.1.patch",
	patch:     knpCNPPatch,
	flags: []string{
		// Upstream's default, new in v1.0, stated on purpose: a policy
		// change also judges established connections again (those it no
		// longer allows lose their conntrack label, so their next packet
		// is queued and dropped). The established cases report it.
		"--strict-mode=true",
		// Pod IPs come from the API server. The NRI plugin would dial the
		// host-wide /var/run/nri/nri.sock, which is not our containerd's
		// (1.6 has no NRI) and on another host may be another runtime's.
		// v0.8.0 ignores this flag (so the default driver does not pass
		// it); v1.1.1 honours it.
		"--disable-nri=true",
	},
}

// knpDriver runs sigs.k8s.io/kube-network-policies, the implementation
// upstream Kubernetes CI uses, as a host process: the release r. It sends
// the first packet of each connection it judges to userspace through
// NFQUEUE and drops it there when no policy allows it, so denied
// connections time out rather than being refused. Build applies our patch
// of r to the pristine module source.
type knpDriver struct{ r *knpRelease }

// KubeNetworkPolicies is the default kube-network-policies driver, v0.8.0
// (knpDefault), what CI runs: only the connections of Pods a policy
// selects are queued. Both types are used as registered (Get): their zero
// values have no release.
type KubeNetworkPolicies struct{ knpDriver }

// KubeNetworkPoliciesCNP is the opt-in kube-network-policies-cnp driver,
// v1.1.1 npa-v1alpha2 (knpCNP), with ClusterNetworkPolicy.
type KubeNetworkPoliciesCNP struct{ knpDriver }

func init() {
	register(KubeNetworkPolicies{knpDriver{&knpDefault}})
	register(KubeNetworkPoliciesCNP{knpDriver{&knpCNP}})
}

func (d knpDriver) Name() string { return d.r.name }

// Version is the release's (Versioned). KubeNetworkPolicies' own, in
// release.go, returns the same knpVersion.
func (d knpDriver) Version() string { return d.r.version }

func (knpDriver) Enforces() bool { return true }

func (d knpDriver) binary(env Env) string {
	return filepath.Join(env.Builder.BinDir, d.r.name)
}

// patchID names the patch in the build stamp, so editing it rebuilds.
func (r *knpRelease) patchID() string {
	sum := sha256.Sum256(r.patch)
	return "patch-sha256:" + hex.EncodeToString(sum[:8])
}

// ClusterWideCRDs is the ClusterNetworkPolicy CRD of knpCRDs. It serves
// v1alpha2, which npa-v1alpha2 watches, and v1beta1 (the storage version,
// no conversion webhook): the two schemas are the same, and the same as the
// v1alpha2 of the network-policy-api upstream's go.mod pins
// (v0.1.8-0.20260217173220-6bb86defe1a7) but for two validations that only
// got stricter (a CIDR must be masked; a domain name's letters are A-Z, not
// A-z). No AdminNetworkPolicy: npa-v1alpha2 implements none. (The default
// driver has no ClusterWideCRDs: v0.8.0's ./cmd watches no cluster-wide
// API unless told to with --admin-network-policy.)
func (KubeNetworkPoliciesCNP) ClusterWideCRDs() CRDs { return knpCRDs }

// Project is the suite's name for both drivers' enforcer: one project, one
// profile.
func (knpDriver) Project() string { return "kube-network-policies" }

// Build builds the release's package of the patched module, in its own
// module directory (its go.mod pins Kubernetes libraries of its own; they
// must not enter ours).
func (d knpDriver) Build(ctx context.Context, env Env) error {
	_, err := env.Builder.Module(ctx, gobuild.ModuleBuild{
		Module:  knpModule,
		Version: d.r.version,
		Package: d.r.pkg,
		Name:    d.r.name,
		Patch: func(dir string) error {
			return gobuild.ApplyPatch(ctx, dir, d.r.patch, false)
		},
		PatchID: d.r.patchID(),
	})
	if err != nil {
		return fmt.Errorf("building %s (%s@%s): %w", d.r.name, knpModule, d.r.version, err)
	}
	return nil
}

func (d knpDriver) Processes(env Env) []proc.Spec {
	return []proc.Spec{{
		Name:  "kube-network-policies",
		Path:  d.binary(env),
		Args:  d.r.args(env),
		Ports: []string{knpMetricsAddr},
	}}
}

func (r *knpRelease) args(env Env) []string {
	args := []string{
		// v0.8.0's from our patch; v1.1.1's upstream.
		"--kubeconfig=" + env.Kubeconfig,
		// Pods are matched to this node by spec.nodeName.
		"--hostname-override=" + env.NodeName,
		"--nfqueue-id=" + strconv.Itoa(knpQueueID),
		// Fail closed, stated on purpose: v0.8.0's default, but v1.1.1's
		// is fail-open. Open, while no process listens on the queue,
		// packets would be accepted, and an enforcer that died would read
		// as a policy that allows; closed, they are dropped (and on
		// SIGTERM v1.1.1 then deletes its table rather than leave it
		// dropping).
		"--fail-open=false",
	}
	args = append(args, r.flags...)
	return append(args,
		// The kernel here (6.18) has the conntrack fix this workaround is
		// for (upstream: "not needed for kernels 6.12+"), so all
		// protocols take the one postrouting path.
		"--netfilter-bug-1766-fix=false",
		"--metrics-bind-address="+knpMetricsAddr,
		// V(2) logs each queued packet and its verdict: what a suite
		// failure needs, at the low rate of the suite's probes.
		"--v=2",
	)
}

// Ready returns nil once its table is programmed and a process listens on
// its queue: it programs the table, then binds the queue, before it judges
// any packet. Upstream has no health endpoint.
func (knpDriver) Ready(ctx context.Context, env Env) error {
	var last error
	for {
		last = knpReady(ctx, env)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kube-network-policies not ready: %w (%w)", last, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func knpReady(ctx context.Context, env Env) error {
	if out, err := env.command(ctx, "nft", "list", "table", "inet", knpTable).CombinedOutput(); err != nil {
		return fmt.Errorf("nftables table inet %s not programmed: %w: %s", knpTable, err, strings.TrimSpace(string(out)))
	}
	// Read by a process where the enforcer runs: /proc/net shows the
	// reader's network namespace.
	data, err := env.command(ctx, "cat", nfqueueProcFile).Output()
	if err != nil {
		return fmt.Errorf("reading bound NFQUEUE queues: %w", err)
	}
	if !queueBound(string(data), knpQueueID) {
		return fmt.Errorf("no listener on NFQUEUE %d (%s)", knpQueueID, nfqueueProcFile)
	}
	return nil
}

// queueBound reports whether the content of /proc/net/netfilter/nfnetlink_queue
// lists queue id, i.e. a process is bound to it.
func queueBound(procContent string, id int) bool {
	for _, l := range strings.Split(procContent, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == strconv.Itoa(id) {
			return true
		}
	}
	return false
}

// knpTables are the inet tables either release may leave behind; a table
// that does not exist (v0.8.0 never creates knpDNSTable) is skipped.
var knpTables = []string{knpTable, knpDNSTable}

// Cleanup deletes the inet tables it may leave behind. v0.8.0 removes its
// table only when stopped by SIGINT, and the harness stops processes with
// SIGTERM (docs/local-cluster.md); v1.1.1, fail-closed, deletes its main
// table on SIGTERM, but not when killed, and never its DNS agent's (which
// only queues DNS answers, with bypass). The generic cleanup knows only
// the main table; the driver owns what its enforcer creates.
func (knpDriver) Cleanup(ctx context.Context, _ Env) error {
	var errs []error
	for _, table := range knpTables {
		if err := exec.CommandContext(ctx, "nft", "list", "table", "inet", table).Run(); err != nil {
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				continue // no such table: nothing to undo
			}
			errs = append(errs, fmt.Errorf("looking for nftables table inet %s: %w", table, err))
			continue
		}
		if out, err := exec.CommandContext(ctx, "nft", "delete", "table", "inet", table).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("deleting nftables table inet %s: %w: %s", table, err, strings.TrimSpace(string(out))))
		}
	}
	return errors.Join(errs...)
}

// Footprint: its nftables tables are new since the snapshot and its own
// Cleanup's; it writes nothing else of the host (no NRI socket, no state
// directory: neither release keeps an IP cache on disk).
func (knpDriver) Footprint() Footprint { return Footprint{} }
