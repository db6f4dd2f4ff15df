// Package hostchange makes the host changes the local cluster needs (the
// safety guard, blackhole routes, sysctls) and undoes every change the
// cluster made, using the snapshot taken before it started as the reference
// of what must stay.
package hostchange

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/netpol-conformance/netpol-conformance/localcluster/hoststate"
	"github.com/netpol-conformance/netpol-conformance/localcluster/render"
)

// InstallGuard installs the nftables guard and the blackhole routes. It
// must run before any cluster component starts.
func InstallGuard(p render.Params) error {
	script, err := render.Guard(p)
	if err != nil {
		return err
	}
	// Replace, not add, so `up` after an interrupted `up` is safe.
	_ = exec.Command("nft", "delete", "table", "inet", render.GuardTable).Run()
	if err := runIn(string(script), "nft", "-f", "-"); err != nil {
		return fmt.Errorf("installing nftables guard: %w", err)
	}
	// The bridge's more specific route wins for real pods; anything else
	// addressed to the pod or service ranges dies here instead of following
	// the default route off the machine.
	for _, cidr := range []string{p.ClusterCIDR, p.ServiceCIDR} {
		if err := run("ip", "route", "replace", "blackhole", cidr); err != nil {
			return fmt.Errorf("adding blackhole route for %s: %w", cidr, err)
		}
	}
	return nil
}

// EnableForwarding lets the host route pod -> ClusterIP -> pod, as the node
// of a one-node cluster; the value before `up` is in the snapshot and is
// restored by RestoreSysctls. (Namespace nodes forward in their own
// network namespaces: the host of a multi-node cluster forwards nothing.)
func EnableForwarding() error {
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enabling ip_forward: %w", err)
	}
	return nil
}

// GuardOwner reports whether a guard table exists and, when it does, the
// state dir of the cluster that installed it ("" for a guard that does not
// name one). A guard means a local cluster was brought up on this host and
// not torn down: its guard, routes and processes belong to that state dir.
func GuardOwner() (owner string, installed bool) {
	out, err := exec.Command("nft", "list", "table", "inet", render.GuardTable).Output()
	if err != nil {
		// nft exits non-zero for a table that does not exist; any other
		// failure also fails the install that follows, with nft's output.
		return "", false
	}
	return parseGuardOwner(string(out)), true
}

// parseGuardOwner reads the state dir out of `nft list table`'s comment line.
func parseGuardOwner(listing string) string {
	for _, line := range strings.Split(listing, "\n") {
		line = strings.TrimSpace(line)
		if c, ok := strings.CutPrefix(line, `comment "`+render.GuardOwnerPrefix); ok {
			return strings.TrimSuffix(c, `"`)
		}
		if strings.HasPrefix(line, "chain ") {
			break // the table's comment comes before its chains
		}
	}
	return ""
}

// RemoveGuard deletes the guard table and the blackhole routes. It runs last
// in teardown, after every component is stopped.
func RemoveGuard(p render.Params) error {
	var errs []error
	if tableExists("inet", render.GuardTable) {
		if err := run("nft", "delete", "table", "inet", render.GuardTable); err != nil {
			errs = append(errs, fmt.Errorf("deleting guard table: %w", err))
		}
	}
	for _, cidr := range []string{p.ClusterCIDR, p.ServiceCIDR} {
		if out, _ := exec.Command("ip", "route", "show", "type", "blackhole", cidr).Output(); len(strings.TrimSpace(string(out))) > 0 {
			if err := run("ip", "route", "del", "blackhole", cidr); err != nil {
				errs = append(errs, fmt.Errorf("deleting blackhole route %s: %w", cidr, err))
			}
		}
	}
	return errors.Join(errs...)
}

// RestoreSysctls writes back every recorded sysctl that changed.
func RestoreSysctls(before *hoststate.Snapshot) error {
	var errs []error
	for k, v := range before.Sysctls {
		path := filepath.Join("/proc/sys", k)
		cur, err := os.ReadFile(path)
		if err != nil || strings.TrimSpace(string(cur)) == v {
			continue
		}
		if err := os.WriteFile(path, []byte(v), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restoring %s to %s: %w", k, v, err))
		}
	}
	return errors.Join(errs...)
}

// iptablesCompatTables are the nftables tables that iptables-nft, kube-proxy
// and kube-network-policies create; one that did not exist before `up` is
// deleted whole once its chains are cleaned.
var iptablesCompatTables = map[string]bool{
	"ip filter": true, "ip nat": true, "ip mangle": true, "ip raw": true, "ip security": true,
	"ip6 filter": true, "ip6 nat": true, "ip6 mangle": true, "ip6 raw": true, "ip6 security": true,
	"ip kube-proxy": true, "ip6 kube-proxy": true, "inet kube-network-policies": true,
}

// CleanNetfilter removes every iptables rule and chain that appeared since
// the snapshot (kube-proxy's KUBE-*, kube-router's KUBE-ROUTER-*, KUBE-NWPLCY-*
// and KUBE-POD-FW-*), then the nftables tables that did not exist before and
// the empty built-in chains iptables-nft added to tables that did, then the
// new ipsets. kube-router's own --cleanup-config is not used: it
// also flushes all IPVS state of the host (docs/local-cluster.md, "Safety").
func CleanNetfilter(before *hoststate.Snapshot) error {
	var errs []error
	for _, tool := range []string{"iptables", "ip6tables"} {
		out, err := exec.Command(tool + "-save").Output()
		if err != nil {
			continue // not installed or no such family: nothing to clean
		}
		script := UndoScript(linesWithPrefix(before.Iptables, tool+"-save: "), string(out))
		if script == "" {
			continue
		}
		if err := runIn(script, tool+"-restore", "--noflush"); err != nil {
			errs = append(errs, fmt.Errorf("%s-restore of the undo script:\n%s: %w", tool, script, err))
		}
	}
	had := set(before.Nftables)
	now := map[string]bool{}
	if out, err := exec.Command("nft", "-s", "list", "ruleset").Output(); err == nil {
		now = set(hoststate.NormalizeNftables(string(out)))
	}
	for block := range now {
		t, chain, ok := tableBlock(block)
		if !ok || !iptablesCompatTables[t] {
			continue
		}
		f := strings.Fields(t)
		switch {
		case chain == "" && !had[block]:
			// A table iptables-nft created for the cluster goes whole.
			if err := run("nft", "delete", "table", f[0], f[1]); err != nil {
				errs = append(errs, fmt.Errorf("deleting nftables table %s: %w", t, err))
			}
		case chain != "" && had["table "+t] && !had[block] && emptyChain(now, block):
			// A built-in chain iptables-nft added to a table the host
			// already had (kube-proxy's INPUT in podman's filter table):
			// the undo script emptied it, and iptables cannot delete it.
			if err := run("nft", "delete", "chain", f[0], f[1], chain); err != nil {
				errs = append(errs, fmt.Errorf("deleting nftables chain %s %s: %w", t, chain, err))
			}
		}
	}
	hadSet := map[string]bool{}
	for _, s := range before.Ipsets {
		hadSet[s] = true
	}
	if out, err := exec.Command("ipset", "list", "-n").Output(); err == nil {
		for _, s := range strings.Fields(string(out)) {
			if hadSet[s] {
				continue
			}
			if err := run("ipset", "destroy", s); err != nil {
				errs = append(errs, fmt.Errorf("destroying ipset %s: %w", s, err))
			}
		}
	}
	return errors.Join(errs...)
}

// UndoScript returns an iptables-restore --noflush script that deletes the
// rules of now (iptables-save output) that before (its normalized lines,
// "*TABLE LINE", see hoststate) lacks, then flushes and deletes the chains
// before lacks. Rules are deleted by their exact iptables-save spelling, so
// quoting survives untouched.
func UndoScript(before []string, now string) string {
	had := map[string]bool{}
	for _, l := range before {
		table, rest, ok := strings.Cut(l, " ")
		if !ok || !strings.HasPrefix(table, "*") {
			continue
		}
		had[table+"\x00"+chainDecl(rest)] = true
	}
	var b strings.Builder
	table := ""
	var dels, flushes, removes []string
	flush := func() {
		if table != "" && len(dels)+len(flushes) > 0 {
			b.WriteString(table + "\n")
			for _, group := range [][]string{dels, flushes, removes} {
				for _, l := range group {
					b.WriteString(l + "\n")
				}
			}
			b.WriteString("COMMIT\n")
		}
		dels, flushes, removes = nil, nil, nil
	}
	for _, l := range strings.Split(now, "\n") {
		l = strings.TrimRight(l, " ")
		switch {
		case l == "" || strings.HasPrefix(l, "#") || l == "COMMIT":
		case strings.HasPrefix(l, "*"):
			flush()
			table = l
		case strings.HasPrefix(l, ":"):
			if !had[table+"\x00"+chainDecl(l)] {
				f := strings.Fields(l[1:])
				flushes = append(flushes, "-F "+f[0])
				// Built-in chains carry a policy instead of "-" and cannot
				// be deleted; their table goes whole in CleanNetfilter.
				if len(f) > 1 && f[1] == "-" {
					removes = append(removes, "-X "+f[0])
				}
			}
		case strings.HasPrefix(l, "-A "):
			if !had[table+"\x00"+l] {
				chain := strings.Fields(l)[1]
				// Rules inside a new chain go with its flush.
				if had[table+"\x00"+":"+chain] {
					dels = append(dels, "-D "+l[len("-A "):])
				}
			}
		}
	}
	flush()
	return b.String()
}

// chainDecl reduces ":KUBE-X - [0:0]" to ":KUBE-X" so policies and counters
// do not matter; rules are returned as they are.
func chainDecl(l string) string {
	if strings.HasPrefix(l, ":") {
		if f := strings.Fields(l); len(f) > 0 {
			return f[0]
		}
	}
	return l
}

// tableBlock parses a block line of hoststate.NormalizeNftables: "table
// FAMILY NAME" gives the table, "table FAMILY NAME chain CHAIN" the table
// and chain; anything else is not a table or chain block.
func tableBlock(block string) (table, chain string, ok bool) {
	if strings.Contains(block, ":") {
		return "", "", false
	}
	f := strings.Fields(block)
	switch {
	case len(f) == 3 && f[0] == "table":
		return f[1] + " " + f[2], "", true
	case len(f) == 5 && f[0] == "table" && f[3] == "chain":
		return f[1] + " " + f[2], f[4], true
	}
	return "", "", false
}

// emptyChain reports whether the normalized ruleset holds nothing in the
// chain block but its hook declaration.
func emptyChain(ruleset map[string]bool, block string) bool {
	for l := range ruleset {
		if rest, ok := strings.CutPrefix(l, block+": "); ok && !strings.HasPrefix(rest, "type ") {
			return false
		}
	}
	return true
}

func linesWithPrefix(ls []string, p string) []string {
	var out []string
	for _, l := range ls {
		if strings.HasPrefix(l, p) {
			out = append(out, strings.TrimPrefix(l, p))
		}
	}
	return out
}

// CleanLinksAndNamespaces deletes links and CNI network namespaces that
// appeared since the snapshot: the pod bridge and the host ends of pod links
// (veth*, and those with any of podLinkPrefixes, e.g. Calico's cali*) that
// CNI DEL could not remove because their pod was already gone. A link that
// was there before `up` is never touched, whatever its name.
func CleanLinksAndNamespaces(before *hoststate.Snapshot, bridge string, podLinkPrefixes ...string) error {
	var errs []error
	now, err := hoststate.Capture(before.Watch)
	if err != nil {
		return err
	}
	had := set(before.Links)
	for _, l := range now.Links {
		if had[l] || !clusterLink(l, bridge, podLinkPrefixes) {
			continue
		}
		if err := run("ip", "link", "del", l); err != nil {
			errs = append(errs, fmt.Errorf("deleting link %s: %w", l, err))
		}
	}
	hadNs := set(before.Netns)
	for _, n := range now.Netns {
		if hadNs[n] || !strings.HasPrefix(n, "cni-") {
			continue
		}
		p := filepath.Join("/run/netns", n)
		_ = syscall.Unmount(p, syscall.MNT_DETACH)
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			errs = append(errs, fmt.Errorf("removing netns %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// clusterLink reports whether link is the pod bridge or a pod link: veth*
// (the bridge plugin's) or one with a prefix of podLinkPrefixes.
func clusterLink(link, bridge string, podLinkPrefixes []string) bool {
	if link == bridge {
		return true
	}
	for _, p := range append([]string{"veth"}, podLinkPrefixes...) {
		if p != "" && strings.HasPrefix(link, p) {
			return true
		}
	}
	return false
}

// Unmount detaches every mount that appeared since the snapshot below one of
// roots (the state dir, containerd's and CNI's hard-coded run dirs), deepest
// first. cgroup hierarchies are never touched.
func Unmount(before *hoststate.Snapshot, roots []string) error {
	now, err := hoststate.Capture(before.Watch)
	if err != nil {
		return err
	}
	had := set(before.Mounts)
	var targets []string
	for _, m := range now.Mounts {
		if had[m] {
			continue
		}
		point, fstype, _ := strings.Cut(m, " ")
		if strings.HasPrefix(fstype, "cgroup") {
			continue
		}
		for _, r := range roots {
			if point == r || strings.HasPrefix(point, strings.TrimSuffix(r, "/")+"/") {
				targets = append(targets, point)
				break
			}
		}
	}
	sort.Slice(targets, func(i, j int) bool { return len(targets[i]) > len(targets[j]) })
	var errs []error
	for _, t := range targets {
		if err := syscall.Unmount(t, 0); err != nil {
			if err := syscall.Unmount(t, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
				errs = append(errs, fmt.Errorf("unmounting %s: %w", t, err))
			}
		}
	}
	return errors.Join(errs...)
}

// KillOrphanedPods SIGKILLs every task left in the kubepods cgroups kubelet
// made (those not in the snapshot), then waits for them to go. It is for a
// cluster whose containerd is gone: its pods cannot be removed through CRI
// and their shims are dead or killed, so the containers are orphans of
// PID 1. Cgroups that existed before `up` are never touched.
func KillOrphanedPods(before *hoststate.Snapshot) error {
	had := set(before.Cgroups)
	tasks := func() map[int]bool {
		pids := map[int]bool{}
		for _, root := range hoststate.KubepodsCgroups() {
			if had[root] {
				continue
			}
			_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
				if err != nil || !d.IsDir() {
					return nil
				}
				data, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
				for _, f := range strings.Fields(string(data)) {
					var pid int
					if _, err := fmt.Sscanf(f, "%d", &pid); err == nil && pid > 1 {
						pids[pid] = true
					}
				}
				return nil
			})
		}
		return pids
	}
	for pid := range tasks() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for i := 0; i < 50; i++ {
		left := tasks()
		if len(left) == 0 {
			return nil
		}
		if i == 49 {
			return fmt.Errorf("%d orphaned pod processes did not exit after SIGKILL", len(left))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// RemoveKubepodsCgroups removes the (empty) cgroup directories kubelet made,
// deepest first. rmdir on a cgroup fails while it has tasks, which is the
// check we want: a non-empty cgroup is reported, never forced.
func RemoveKubepodsCgroups(before *hoststate.Snapshot) error {
	had := set(before.Cgroups)
	var dirs []string
	for _, root := range hoststate.KubepodsCgroups() {
		if had[root] {
			continue
		}
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	var errs []error
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
			errs = append(errs, fmt.Errorf("removing cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// RemoveNewPaths deletes the watched directories (hoststate.Watch) that
// did not exist before `up`, refusing any that still has a mount inside.
func RemoveNewPaths(before *hoststate.Snapshot) error {
	had := set(before.Paths)
	now, err := hoststate.Capture(before.Watch)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range now.Paths {
		if had[p] {
			continue
		}
		if m := mountBelow(now.Mounts, p); m != "" {
			errs = append(errs, fmt.Errorf("not removing %s: %s is still mounted", p, m))
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

func mountBelow(mounts []string, dir string) string {
	for _, m := range mounts {
		point, _, _ := strings.Cut(m, " ")
		if point == dir || strings.HasPrefix(point, dir+"/") {
			return point
		}
	}
	return ""
}

func tableExists(family, name string) bool {
	return exec.Command("nft", "list", "table", family, name).Run() == nil
}

func set(ls []string) map[string]bool {
	m := make(map[string]bool, len(ls))
	for _, l := range ls {
		m[l] = true
	}
	return m
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func runIn(stdin, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
