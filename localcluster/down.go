package localcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/netpol-conformance/netpol-conformance/localcluster/cri"
	"github.com/netpol-conformance/netpol-conformance/localcluster/enforcer"
	"github.com/netpol-conformance/netpol-conformance/localcluster/hostchange"
	"github.com/netpol-conformance/netpol-conformance/localcluster/hoststate"
	"github.com/netpol-conformance/netpol-conformance/localcluster/proc"
	"github.com/netpol-conformance/netpol-conformance/localcluster/render"
)

// Down stops what Up started, removes the pods through CRI, undoes every
// host change and then compares the host with the snapshot taken before Up:
// any difference is an error listing each one. Down with nothing up is a
// no-op.
func (c *Cluster) Down(ctx context.Context) error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return c.down(ctx)
}

// down is Down for a caller that holds the state dir's lock.
func (c *Cluster) down(ctx context.Context) error {
	before, err := hoststate.Load(c.snapshotPath())
	if errors.Is(err, os.ErrNotExist) {
		before = nil
	} else if err != nil {
		return err
	}
	recorded := c.sup.Recorded()
	if before == nil && len(recorded) == 0 {
		c.logf("nothing to tear down in %s", c.opts.StateDir)
		return nil
	}
	// A guard naming another state dir is a cluster that came up after
	// this one was killed: this teardown (its pods by cgroup, the
	// netfilter rules, routes and mounts new since our snapshot) would
	// undo that one.
	if owner, installed := hostchange.GuardOwner(); installed && owner != "" && owner != c.opts.StateDir {
		return fmt.Errorf("the local cluster of state dir %s holds this host now; tearing down %s would undo it: `local down --state-dir %s` first", owner, c.opts.StateDir, owner)
	}
	rec, _ := c.loadRecord()
	if before != nil && len(before.Watch.Paths) == 0 && rec != nil {
		// A snapshot from before snapshots kept what they watched.
		before.Watch = c.footprint(rec.Params).watch
	}
	var errs []error

	// Stop the node side first so nothing recreates pods or rules, then
	// remove each node's pods through CRI while its containerd still runs
	// (CNI DEL releases veths, IPs and netns), then the control plane. The
	// processes of a driver that wires pods itself stop only after the
	// pods are gone: Cilium's CNI DEL needs its agent.
	order := stopOrder(recorded, rec)
	late := c.podNetworkProcesses(rec)
	order = stopAfterPods(order, late)
	nodes := c.recordedNodes(rec)
	podsRemoved, criRan := map[string]bool{}, true
	for _, name := range order {
		for _, n := range nodes {
			runtime := n.component("containerd")
			if podsRemoved[n.Name] || (name != runtime && !late[name]) {
				continue
			}
			podsRemoved[n.Name] = true
			if _, ok := c.sup.Running(runtime); !ok {
				criRan = false
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			count, err := cri.RemoveAllPods(cctx, n.params.ContainerdSocket)
			cancel()
			if err != nil {
				errs = append(errs, fmt.Errorf("removing the pods of node %s through CRI: %w", n.Name, err))
				criRan = false
			}
			c.logf("removed %d pod sandboxes of node %s through CRI", count, n.Name)
		}
		if err := c.sup.Stop(name, 15*time.Second); err != nil {
			errs = append(errs, err)
			continue
		}
		c.logf("stopped %s", name)
	}
	for _, n := range nodes {
		errs = append(errs, c.killShims(n.params.ContainerdSocket))
	}
	if before == nil {
		return errors.Join(errs...)
	}
	if !criRan || len(nodes) == 0 {
		// containerd was already gone (a killed run) or could not remove
		// every pod: what is left of them belongs to PID 1 now.
		errs = append(errs, hostchange.KillOrphanedPods(before))
	}
	if rec != nil && len(rec.Nodes) > 0 {
		// With their processes gone, the node namespaces end, and with
		// them every rule, route, link and mount inside.
		errs = append(errs, c.deleteNodes(nodes))
	}

	var podLinks []string
	if rec != nil {
		if drv, err := enforcer.Get(rec.Enforcer); err == nil {
			errs = append(errs, drv.Cleanup(ctx, enforcer.Env{Builder: c.builder()}))
			if pn, ok := drv.(enforcer.PodNetwork); ok {
				podLinks = append(podLinks, pn.PodLinkPrefix())
			}
		}
	}
	bridge := Bridge
	errs = append(errs,
		c.cleanNetfilter(before),
		hostchange.CleanLinksAndNamespaces(before, bridge, podLinks...),
		hostchange.Unmount(before, []string{c.opts.StateDir, "/run/containerd", "/run/netns"}),
		hostchange.RemoveKubepodsCgroups(before),
	)
	if rec != nil {
		errs = append(errs, hostchange.RemoveGuard(rec.Params))
	}
	errs = append(errs, hostchange.RestoreSysctls(before), hostchange.RemoveNewPaths(before))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tearing down: %w", err)
	}

	after, err := hoststate.Capture(before.Watch)
	if err != nil {
		return fmt.Errorf("snapshotting host after teardown: %w", err)
	}
	if diff := hoststate.Diff(before, after); len(diff) > 0 {
		_ = after.Save(c.path("host-after.json"))
		return fmt.Errorf("the host is not as before `local up` (%d differences; snapshots in %s and %s):\n  %s",
			len(diff), c.snapshotPath(), c.path("host-after.json"), strings.Join(diff, "\n  "))
	}
	if err := os.Remove(c.snapshotPath()); err != nil {
		return fmt.Errorf("removing host snapshot: %w", err)
	}
	_ = os.Remove(c.path("host-after.json"))
	_ = os.Remove(c.recordPath())
	c.logf("host is as before `local up`: routes, netfilter, ipsets, links, netns, mounts, sysctls, files, cgroups and processes checked")
	return nil
}

// recordedNodes are the nodes of the recorded cluster with their
// parameters: the host node, or the namespace nodes. None without a record.
func (c *Cluster) recordedNodes(rec *record) []recordedNode {
	if rec == nil {
		return nil
	}
	if len(rec.Nodes) == 0 {
		return []recordedNode{{node: c.hostNode(rec.Params.NodeIP), params: rec.Params}}
	}
	var out []recordedNode
	for _, r := range rec.Nodes {
		out = append(out, recordedNode{node: c.namespaceNode(r.Name, r.Params.NodeIP), params: r.Params})
	}
	return out
}

// recordedNode is a node of the record with its parameters.
type recordedNode struct {
	node
	params render.Params
}

// podNetworkProcesses names the processes of the recorded driver on every
// recorded node when it wires pods itself (a PodNetwork), nil otherwise.
func (c *Cluster) podNetworkProcesses(rec *record) map[string]bool {
	if rec == nil {
		return nil
	}
	drv, err := enforcer.Get(rec.Enforcer)
	if err != nil {
		return nil
	}
	if _, ok := drv.(enforcer.PodNetwork); !ok {
		return nil
	}
	names := map[string]bool{}
	for _, n := range c.recordedNodes(rec) {
		for _, p := range drv.Processes(enforcer.Env{Builder: c.builder(), StateDir: c.opts.StateDir, NodeName: n.Name}) {
			names[n.component(p.Name)] = true
		}
	}
	return names
}

// stopAfterPods moves the late processes of order to just before the
// first containerd (the host's, or a node's "containerd@NODE"), where Down
// removes the pods of every node: they stop once the pods are gone.
func stopAfterPods(order []string, late map[string]bool) []string {
	if len(late) == 0 {
		return order
	}
	var out, moved []string
	for _, n := range order {
		if late[n] {
			moved = append(moved, n)
		} else {
			out = append(out, n)
		}
	}
	for i, n := range out {
		if name, _, _ := strings.Cut(n, "@"); name == "containerd" {
			return append(append(append([]string{}, out[:i]...), moved...), out[i:]...)
		}
	}
	return append(out, moved...)
}

// stopOrder is the reverse start order, with any recorded process that the
// record does not list stopped first.
func stopOrder(recorded []string, rec *record) []string {
	listed := map[string]bool{}
	var order []string
	if rec != nil {
		for i := len(rec.Components) - 1; i >= 0; i-- {
			order = append(order, rec.Components[i])
			listed[rec.Components[i]] = true
		}
	}
	var extra []string
	for _, r := range recorded {
		if !listed[r] {
			extra = append(extra, r)
		}
	}
	sort.Strings(extra)
	return append(extra, order...)
}

// killShims stops containerd-shim processes left by our containerd (they
// name its socket in their command line); shims of any other containerd
// are not touched.
func (c *Cluster) killShims(socket string) error {
	entries, _ := os.ReadDir("/proc")
	var errs []error
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") || !strings.Contains(string(cmdline), socket) {
			continue
		}
		var pid int
		fmt.Sscanf(e.Name(), "%d", &pid)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			errs = append(errs, fmt.Errorf("killing leftover shim %d: %w", pid, err))
		}
	}
	return errors.Join(errs...)
}

// Status describes the components of the cluster.
type Status struct {
	Enforcer   string
	Kubeconfig string
	Components []ComponentStatus
	// Up is true when every recorded component runs.
	Up bool
}

// ComponentStatus is one host process.
type ComponentStatus struct {
	Name     string
	Pid      int
	Running  bool
	RSSBytes int64
}

// Status reports which components run and their memory.
func (c *Cluster) Status() (*Status, error) {
	st := &Status{Kubeconfig: c.KubeconfigPath()}
	rec, err := c.loadRecord()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	names := c.sup.Recorded()
	if rec != nil {
		st.Enforcer = rec.Enforcer
		names = rec.Components
	}
	st.Up = len(names) > 0
	for _, n := range names {
		pid, ok := c.sup.Running(n)
		cs := ComponentStatus{Name: n, Pid: pid, Running: ok}
		if ok {
			cs.RSSBytes, _ = proc.RSS(pid)
		} else {
			st.Up = false
		}
		st.Components = append(st.Components, cs)
	}
	return st, nil
}

// cleanNetfilter undoes the cluster's netfilter changes, except against a
// snapshot of an older format: its sorted lines do not say which table a
// rule was in, and undoing against them would delete the host's own rules.
func (c *Cluster) cleanNetfilter(before *hoststate.Snapshot) error {
	if !before.NetfilterComparable() {
		c.logf("warning: the host snapshot in %s is of an older format that does not record netfilter tables: netfilter is neither cleaned nor compared; check `iptables-save` and `nft list ruleset` by hand", c.snapshotPath())
		return nil
	}
	return hostchange.CleanNetfilter(before)
}
