package localcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/netpol-conformance/netpol-conformance/localcluster/enforcer"
	"github.com/netpol-conformance/netpol-conformance/localcluster/hoststate"
	"github.com/netpol-conformance/netpol-conformance/localcluster/nodens"
	"github.com/netpol-conformance/netpol-conformance/localcluster/proc"
)

// Layout of a multi-node cluster. Its nodes are namespaces on this kernel
// (nodens), joined by a bridge inside a namespace of its own, the fabric,
// so that frames between nodes never pass the host's bridge netfilter; the
// host joins the fabric with one veth and serves the control plane on it.
// Nodes have no default route: nothing they send can leave the machine.
const (
	// MaxNodes bounds --nodes: four nodes' kubelets, runtimes and agents
	// fill this 2-core machine.
	MaxNodes = 4
	// FabricCIDR holds the host's and the nodes' fabric addresses.
	FabricCIDR = "10.250.0.0/24"
	// FabricHostIP is the host's address on the fabric, where the API
	// server listens.
	FabricHostIP = "10.250.0.1"
	// FabricHostLink is the host's end of its veth into the fabric.
	FabricHostLink = "netpolfab0"
	// fabricBridge is the bridge inside the fabric namespace.
	fabricBridge = "fabric0"
	// nodeLink is each node's interface on the fabric.
	nodeLink = "eth0"
)

// node is where a node's components run: the host itself for a one-node
// cluster (ns nil, as the cluster always was), or a node namespace.
type node struct {
	Name string
	// IP is the node's InternalIP: the uplink's address for the host
	// node, its fabric address otherwise.
	IP string
	// Dir holds the state of its node-side components.
	Dir string
	ns  *nodens.Node
}

// nodes are the namespace nodes of a cluster of n nodes.
func (c *Cluster) nodes(n int) []node {
	out := make([]node, n)
	for i := range out {
		out[i] = c.namespaceNode(fmt.Sprintf("%s-%d", NodeName, i+1), fmt.Sprintf("10.250.0.%d", 11+i))
	}
	return out
}

// namespaceNode is the namespace node called name at fabric address ip.
func (c *Cluster) namespaceNode(name, ip string) node {
	dir := c.path("nodes", name)
	return node{Name: name, IP: ip, Dir: dir, ns: &nodens.Node{Name: name, Dir: dir}}
}

// hostNode is the node of a one-node cluster: the host, its state in the
// state dir itself.
func (c *Cluster) hostNode(ip string) node {
	return node{Name: NodeName, IP: ip, Dir: c.opts.StateDir}
}

func (n node) path(elem ...string) string {
	return filepath.Join(append([]string{n.Dir}, elem...)...)
}

// component names a node-side component: the name alone on the host node,
// the name at the node otherwise (its pid and log file names).
func (n node) component(name string) string {
	if n.ns == nil {
		return name
	}
	return name + "@" + n.Name
}

// spec runs s inside the node: nsenter execs s in place, so the recorded
// pid and start time are the component's own; its ports are checked in
// the node's network namespace.
func (n node) spec(s proc.Spec) proc.Spec {
	s.Name = n.component(s.Name)
	if n.ns == nil {
		return s
	}
	s.Args = append(append(n.ns.EnterArgs(), s.Path), s.Args...)
	s.Path = nsenterPath
	s.NetNS = n.ns.Pin("net")
	return s
}

// nsenterPath is util-linux's nsenter (Debian's, always installed).
const nsenterPath = "/usr/bin/nsenter"

// command runs name where the node's components run.
func (n node) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	if n.ns == nil {
		return exec.CommandContext(ctx, name, args...)
	}
	return n.ns.Command(ctx, name, args...)
}

// dial connects to addr as a process of the node would.
func (n node) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if n.ns == nil {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return n.ns.DialContext(ctx, network, addr)
}

// cgroupRoot is the cgroup under which the node's kubelet puts its pods:
// the nodes share the host's cgroup tree, so each needs one of its own,
// and `down` removes it (hoststate.NodeCgroupPrefix).
func (n node) cgroupRoot() string {
	if n.ns == nil {
		return ""
	}
	return "/" + hoststate.NodeCgroupPrefix + n.Name
}

// fabric is the namespace that holds the bridge between the nodes.
func (c *Cluster) fabric() *nodens.Node {
	return &nodens.Node{Name: "netpol-fabric", Dir: c.path("fabric")}
}

// createFabric makes the fabric namespace with its bridge, and the host's
// veth into it with the host's fabric address.
func (c *Cluster) createFabric(ctx context.Context) error {
	f := c.fabric()
	if err := f.Create(ctx); err != nil {
		return err
	}
	in := func(args ...string) error { return runCmd(f.Command(ctx, "ip", args...)) }
	host := func(args ...string) error { return runCmd(exec.CommandContext(ctx, "ip", args...)) }
	for _, step := range []func() error{
		func() error { return in("link", "add", fabricBridge, "type", "bridge") },
		func() error { return in("link", "set", fabricBridge, "up") },
		func() error {
			return host("link", "add", FabricHostLink, "type", "veth", "peer", "name", "host", "netns", f.Pin("net"))
		},
		func() error { return in("link", "set", "host", "master", fabricBridge, "up") },
		func() error { return host("addr", "add", FabricHostIP+"/24", "dev", FabricHostLink) },
		func() error { return host("link", "set", FabricHostLink, "up") },
	} {
		if err := step(); err != nil {
			return fmt.Errorf("creating the fabric: %w", err)
		}
	}
	return nil
}

// createNode makes the node's namespaces, its link on the fabric and its
// cgroup root.
func (c *Cluster) createNode(ctx context.Context, n node, index int) error {
	if err := n.ns.Create(ctx); err != nil {
		return err
	}
	f := c.fabric()
	port := fmt.Sprintf("n%d", index+1)
	in := func(args ...string) error { return runCmd(n.command(ctx, args[0], args[1:]...)) }
	for _, step := range []func() error{
		func() error {
			return runCmd(exec.CommandContext(ctx, "ip", "link", "add", nodeLink, "netns", n.ns.Pin("net"), "type", "veth", "peer", "name", port, "netns", f.Pin("net")))
		},
		func() error { return runCmd(f.Command(ctx, "ip", "link", "set", port, "master", fabricBridge, "up")) },
		func() error { return in("ip", "addr", "add", n.IP+"/24", "dev", nodeLink) },
		func() error { return in("ip", "link", "set", nodeLink, "up") },
		// The node routes its pods' traffic; the setting is the node's
		// own network namespace's, the host's stays as it was.
		func() error { return in("sysctl", "-qw", "net.ipv4.ip_forward=1") },
	} {
		if err := step(); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	return createCgroupRoot(n.cgroupRoot())
}

// routeNodes gives the host a route to each node's pod CIDR through that
// node's fabric address, and, with betweenNodes, every node the same
// routes to the others': the plain routes of an enforcer with no mechanism
// of its own between nodes (not an enforcer.NodeRouter). The host's routes
// are more specific than the guard's blackhole for the cluster CIDR.
func routeNodes(ctx context.Context, nodes []node, podCIDRs map[string]string, betweenNodes bool) error {
	for _, to := range nodes {
		cidr := podCIDRs[to.Name]
		if cidr == "" {
			return fmt.Errorf("node %s has no pod CIDR", to.Name)
		}
		if err := runCmd(exec.CommandContext(ctx, "ip", "route", "replace", cidr, "via", to.IP, "dev", FabricHostLink)); err != nil {
			return fmt.Errorf("routing %s to node %s on the host: %w", cidr, to.Name, err)
		}
		if !betweenNodes {
			continue
		}
		for _, from := range nodes {
			if from.Name == to.Name {
				continue
			}
			if err := runCmd(from.command(ctx, "ip", "route", "replace", cidr, "via", to.IP, "dev", nodeLink)); err != nil {
				return fmt.Errorf("routing %s to node %s in node %s: %w", cidr, to.Name, from.Name, err)
			}
		}
	}
	return nil
}

// waitPeersKnown waits until, in every node, r knows every other node
// (enforcer.NodeRouter's PeerKnown). On failure it names the node that did
// not, whose enforcer's log says why.
func waitPeersKnown(ctx context.Context, r enforcer.NodeRouter, nodes []node, podCIDRs map[string]string, timeout time.Duration) (node, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, from := range nodes {
		for _, to := range nodes {
			if from.Name == to.Name {
				continue
			}
			check := r.PeerKnown(to.IP, podCIDRs[to.Name])
			if len(check) == 0 {
				return from, fmt.Errorf("no check of node %s's pod CIDR %q from node %s", to.Name, podCIDRs[to.Name], from.Name)
			}
			for {
				out, err := from.command(ctx, check[0], check[1:]...).CombinedOutput()
				if err == nil && len(bytes.TrimSpace(out)) > 0 {
					break
				}
				select {
				case <-ctx.Done():
					last := "printed nothing"
					if err != nil {
						last = fmt.Sprintf("failed: %v: %s", err, bytes.TrimSpace(out))
					}
					return from, fmt.Errorf("node %s does not know node %s after %s: `%s` %s", from.Name, to.Name, timeout, strings.Join(check, " "), last)
				case <-time.After(200 * time.Millisecond):
				}
			}
		}
	}
	return node{}, nil
}

// deleteNodes deletes the nodes' namespaces, then the fabric's (with it the
// host's veth and its routes); RemoveKubepodsCgroups removes the nodes'
// cgroup roots after. Their processes must be gone: a namespace ends with
// its last process.
func (c *Cluster) deleteNodes(nodes []recordedNode) error {
	var errs []error
	for _, n := range nodes {
		if n.ns != nil {
			errs = append(errs, n.ns.Delete())
		}
	}
	errs = append(errs, c.fabric().Delete())
	// The kernel ends an unpinned namespace asynchronously: the host's end
	// of the fabric veth goes with it, a moment later. Only a link still
	// there after that is deleted by hand (then both ends go).
	for i := 0; i < 50; i++ {
		if _, err := net.InterfaceByName(FabricHostLink); err != nil {
			return errors.Join(errs...)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := runCmd(exec.Command("ip", "link", "del", FabricHostLink)); err != nil {
		if _, gone := net.InterfaceByName(FabricHostLink); gone != nil {
			return errors.Join(errs...)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// cgroupFS is where the host's cgroup hierarchies are mounted.
const cgroupFS = "/sys/fs/cgroup"

// cgroupV2Only reports whether the cgroup tree at root is the unified (v2)
// hierarchy alone: its root then has cgroup.controllers, and every
// directory under it is a cgroup of that one hierarchy, not a hierarchy.
func cgroupV2Only(root string) bool {
	_, err := os.Stat(filepath.Join(root, "cgroup.controllers"))
	return err == nil
}

// cgroupHierarchies are the host's cgroup hierarchies (cgroups v1 here,
// each mounted under /sys/fs/cgroup; "unified" is the v2 one).
func cgroupHierarchies() ([]string, error) {
	entries, err := os.ReadDir(cgroupFS)
	if err != nil {
		return nil, fmt.Errorf("listing cgroup hierarchies: %w", err)
	}
	var out []string
	for _, e := range entries {
		dir := filepath.Join(cgroupFS, e.Name())
		// Symlinks (cpu -> cpu,cpuacct) name a hierarchy twice.
		if e.IsDir() && e.Type()&os.ModeSymlink == 0 {
			if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err == nil {
				out = append(out, dir)
			}
		}
	}
	return out, nil
}

// createCgroupRoot makes root in every hierarchy: kubelet refuses a
// cgroupRoot that does not exist. A new cpuset cgroup has no CPUs or
// memory nodes until given its parent's.
func createCgroupRoot(root string) error {
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	for _, h := range hs {
		dir := filepath.Join(h, root)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("creating cgroup %s: %w", dir, err)
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, err := os.ReadFile(filepath.Join(h, f)); err == nil {
				if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
					return fmt.Errorf("setting %s of cgroup %s: %w", f, dir, err)
				}
			}
		}
	}
	return nil
}

// runCmd runs cmd and wraps its failure with its output.
func runCmd(cmd *exec.Cmd) error {
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// checkFabricFree refuses a host that already routes the fabric's
// addresses: the fabric would shadow or be shadowed by the host's network.
func checkFabricFree() error {
	_, fabric, _ := net.ParseCIDR(FabricCIDR)
	out, err := exec.Command("ip", "-4", "-o", "route", "show", "table", "all").Output()
	if err != nil {
		return fmt.Errorf("reading the host's routes: %w", err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] == "default" || f[0] == "broadcast" || f[0] == "local" || f[0] == "blackhole" {
			continue
		}
		dst := f[0]
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		if _, n, err := net.ParseCIDR(dst); err == nil && (n.Contains(fabric.IP) || fabric.Contains(n.IP)) {
			return fmt.Errorf("the host already routes %s (%q), which overlaps the fabric of a multi-node cluster (%s)", dst, strings.TrimSpace(l), FabricCIDR)
		}
	}
	return nil
}
