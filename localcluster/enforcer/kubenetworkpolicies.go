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
	knpVersion = "v0.8.0"
	// knpQueueID is upstream's default --nfqueue-id, passed explicitly
	// because Ready looks for a listener on it.
	knpQueueID = 100
	// knpTable is the inet table it programs (upstream's NFTableName
	// default, not a flag).
	knpTable = "kube-network-policies"
	// knpMetricsAddr keeps its metrics server off the uplink (upstream
	// listens on :9080).
	knpMetricsAddr = "127.0.0.1:9080"
	// nfqueueProcFile lists the bound NFQUEUE queues of the host's
	// network namespace, one line per queue, its number first.
	nfqueueProcFile = "/proc/net/netfilter/nfnetlink_queue"
)

// knpPatch is our patch to v0.8.0; its header gives each hunk's reason.
//
//go:embed patches/kube-network-policies-v0.8.0.patch
var knpPatch []byte

// KubeNetworkPolicies runs sigs.k8s.io/kube-network-policies, the
// implementation upstream Kubernetes CI uses, as a host process. It sends
// the first packet of each connection to or from a Pod selected by a policy
// to userspace through NFQUEUE and drops it there when no policy allows it,
// so denied connections time out rather than being refused.
//
// As released it does not run here (docs/local-cluster.md): its nftables
// rules use the `queue` statement and this kernel lacks CONFIG_NFT_QUEUE,
// and its main only knows the in-cluster config. Build applies our minimal
// patch (patches/kube-network-policies-v0.8.0.patch) to the pristine module
// source: the same rules with the xtables NFQUEUE target through nft_compat,
// and a --kubeconfig flag.
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

// Build builds ./cmd of the patched module, in its own module directory
// (its go.mod pins Kubernetes libraries of its own; they must not enter ours).
func (KubeNetworkPolicies) Build(ctx context.Context, env Env) error {
	_, err := env.Builder.Module(ctx, gobuild.ModuleBuild{
		Module:  knpModule,
		Version: knpVersion,
		Package: "./cmd",
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
		"--kubeconfig=" + env.Kubeconfig, // from our patch
		// Pods are matched to this node by spec.nodeName.
		"--hostname-override=" + env.NodeName,
		"--nfqueue-id=" + strconv.Itoa(knpQueueID),
		// Fail closed (upstream's default, stated on purpose): while no
		// process listens on the queue, packets of policy-selected Pods
		// are dropped, so an enforcer that died is never mistaken for a
		// policy that allows.
		"--fail-open=false",
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

// Cleanup deletes the inet table it leaves behind: upstream removes it only
// when stopped by SIGINT, and the harness stops processes with SIGTERM
// (docs/local-cluster.md). The generic cleanup would also delete the table
// as new since the snapshot; the driver owns what its enforcer creates.

func (KubeNetworkPolicies) Cleanup(ctx context.Context, _ Env) error {
	if err := exec.CommandContext(ctx, "nft", "list", "table", "inet", knpTable).Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return nil // no such table: nothing to undo
		}
		return fmt.Errorf("looking for nftables table inet %s: %w", knpTable, err)
	}
	if out, err := exec.CommandContext(ctx, "nft", "delete", "table", "inet", knpTable).CombinedOutput(); err != nil {
		return fmt.Errorf("deleting nftables table inet %s: %w: %s", knpTable, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Footprint: its nftables table is new since the snapshot and its own
// Cleanup's; it writes nothing else of the host.
func (KubeNetworkPolicies) Footprint() Footprint { return Footprint{} }
