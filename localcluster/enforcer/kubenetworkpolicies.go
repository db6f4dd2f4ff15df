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
	knpModule  = "sigs.k8s.io/kube-network-policies"
	knpVersion = "v1.1.1"
	// knpPackage is the main of upstream's install-cnp.yaml (image
	// kube-network-policies:v1.1.0-npa-v1alpha2): NetworkPolicy between
	// ClusterNetworkPolicy's Admin and Baseline tiers, watched as
	// policy.networking.k8s.io/v1alpha2. ./cmd/kube-network-policies/standard
	// has no cluster-wide policy; npa-v1alpha1 has AdminNetworkPolicy.
	knpPackage = "./cmd/kube-network-policies/npa-v1alpha2"
	// knpCNPVersion is the ClusterNetworkPolicy version knpPackage watches
	// (its informer: Policy().V1alpha2()).
	knpCNPVersion = "v1alpha2"
	// knpQueueID is upstream's default --nfqueue-id, passed explicitly
	// because Ready looks for a listener on it.
	knpQueueID = 100
	// knpTable is the inet table it programs (upstream's NFTableName
	// default, not a flag).
	knpTable = "kube-network-policies"
	// knpDNSTable is the inet table of its DNS agent, which npa-v1alpha2
	// always runs (it resolves domainNames peers from the DNS answers it
	// reads on queue knpQueueID+1).
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

// knpPatch is our patch to v1.1.1; its header gives each hunk's reason.
//
//go:embed patches/kube-network-policies-v1.1.1.patch
var knpPatch []byte

// KubeNetworkPolicies runs sigs.k8s.io/kube-network-policies, the
// implementation upstream Kubernetes CI uses, as a host process. It sends
// the first packet of each connection to userspace through NFQUEUE and
// drops it there when no policy allows it, so denied connections time out
// rather than being refused. With ClusterNetworkPolicy on, that is every
// connection the node forwards or opens, not only those of Pods a policy
// selects (npa-v1alpha2's ManagedIPs: divert all), except those of root-owned
// sockets on the node (`meta skuid 0 accept`, so kubelet's probes pass).
//
// As released it does not enforce here (docs/local-cluster.md): its
// nftables rules use the `queue` statement and this kernel lacks
// CONFIG_NFT_QUEUE; and it marks an accepted connection with a conntrack
// label carried by the verdict, which this kernel (no
// CONFIG_NETFILTER_NETLINK_GLUE_CT) ignores, so every later packet of the
// connection, replies included, would be judged as a new one. Build applies
// our minimal patch (patches/kube-network-policies-v1.1.1.patch) to the
// pristine module source: the same rules with the xtables NFQUEUE target
// through nft_compat, and the label set by the chain on the accepted
// packet's way back (NF_REPEAT with a mark) instead of by the verdict.
type KubeNetworkPolicies struct{}

func init() { register(KubeNetworkPolicies{}) }

func (KubeNetworkPolicies) Name() string   { return "kube-network-policies" }
func (KubeNetworkPolicies) Enforces() bool { return true }

func (KubeNetworkPolicies) binary(env Env) string {
	return filepath.Join(env.Builder.BinDir, "kube-network-policies")
}

// knpPatchID names the patch in the build stamp, so editing it rebuilds.
func knpPatchID() string {
	sum := sha256.Sum256(knpPatch)
	return "patch-sha256:" + hex.EncodeToString(sum[:8])
}

// ClusterWideCRDs is the ClusterNetworkPolicy CRD of knpCRDs. It serves
// v1alpha2, which npa-v1alpha2 watches, and v1beta1 (the storage version,
// no conversion webhook): the two schemas are the same, and the same as the
// v1alpha2 of the network-policy-api upstream's go.mod pins
// (v0.1.8-0.20260217173220-6bb86defe1a7) but for two validations that only
// got stricter (a CIDR must be masked; a domain name's letters are A-Z, not
// A-z). No AdminNetworkPolicy: npa-v1alpha2 implements none.
func (KubeNetworkPolicies) ClusterWideCRDs() CRDs { return knpCRDs }

// Build builds knpPackage of the patched module, in its own module directory
// (its go.mod pins Kubernetes libraries of its own; they must not enter ours).
func (KubeNetworkPolicies) Build(ctx context.Context, env Env) error {
	_, err := env.Builder.Module(ctx, gobuild.ModuleBuild{
		Module:  knpModule,
		Version: knpVersion,
		Package: knpPackage,
		Name:    "kube-network-policies",
		Patch: func(dir string) error {
			return gobuild.ApplyPatch(ctx, dir, knpPatch, false)
		},
		PatchID: knpPatchID(),
	})
	if err != nil {
		return fmt.Errorf("building kube-network-policies: %w", err)
	}
	return nil
}

func (k KubeNetworkPolicies) Processes(env Env) []proc.Spec {
	return []proc.Spec{{
		Name:  "kube-network-policies",
		Path:  k.binary(env),
		Args:  knpArgs(env),
		Ports: []string{knpMetricsAddr},
	}}
}

func knpArgs(env Env) []string {
	return []string{
		"--kubeconfig=" + env.Kubeconfig,
		// Pods are matched to this node by spec.nodeName.
		"--hostname-override=" + env.NodeName,
		"--nfqueue-id=" + strconv.Itoa(knpQueueID),
		// Fail closed. Upstream's default is fail-open (v0.8.0's was
		// closed): while no process listens on the queue, packets would be
		// accepted, and an enforcer that died would read as a policy that
		// allows. Closed, they are dropped; and on SIGTERM upstream then
		// deletes its table rather than leave it dropping.
		"--fail-open=false",
		// Upstream's default, new in v1.0, stated on purpose: a policy
		// change also judges established connections again (those it no
		// longer allows lose their conntrack label, so their next packet
		// is queued and dropped). The established cases report it.
		"--strict-mode=true",
		// Pod IPs come from the API server. The NRI plugin would dial the
		// host-wide /var/run/nri/nri.sock, which is not our containerd's
		// (1.6 has no NRI) and on another host may be another runtime's.
		// v0.8.0 ignored this flag; v1.1.1 honours it.
		"--disable-nri=true",
		// The kernel here (6.18) has the conntrack fix this workaround is
		// for (upstream: "not needed for kernels 6.12+"), so all
		// protocols take the one postrouting path.
		"--netfilter-bug-1766-fix=false",
		"--metrics-bind-address=" + knpMetricsAddr,
		// V(2) logs each queued packet and its verdict: what a suite
		// failure needs, at the low rate of the suite's probes.
		"--v=2",
	}
}

// Ready returns nil once its table is programmed and a process listens on
// its queue: it programs the table, then binds the queue, before it judges
// any packet. Upstream has no health endpoint.
func (KubeNetworkPolicies) Ready(ctx context.Context, env Env) error {
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

// Cleanup deletes the inet tables it may leave behind. Fail-closed,
// upstream deletes its main table on SIGTERM (the harness's stop signal,
// docs/local-cluster.md), not when killed; it never deletes its DNS agent's
// (which only queues DNS answers, with bypass). The generic cleanup knows
// only the main table; the driver owns what its enforcer creates.
func (KubeNetworkPolicies) Cleanup(ctx context.Context, _ Env) error {
	var errs []error
	for _, table := range []string{knpTable, knpDNSTable} {
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
// directory: npa-v1alpha2 keeps no IP cache on disk).
func (KubeNetworkPolicies) Footprint() Footprint { return Footprint{} }
