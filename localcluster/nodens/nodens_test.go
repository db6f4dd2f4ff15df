package nodens

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netpol-conformance/netpol-conformance/localcluster/hoststate"
)

// A node made, used and deleted on the real kernel: its namespaces are its
// own while it lives, and afterwards nothing of it is left on the host, not
// even a namespace kept alive by a stray reference.
func TestNodeLifecycle(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making namespaces needs root")
	}
	for _, tool := range []string{"unshare", "nsenter", "findmnt", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (util-linux, iproute2)", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before, err := hoststate.Capture(hoststate.Watch{})
	if err != nil {
		t.Fatal(err)
	}
	hostNet, _ := os.Readlink("/proc/self/ns/net")
	hostName, _ := os.Hostname()
	dir := t.TempDir()
	nodes := []Node{{Name: "netpol-test-n1", Dir: filepath.Join(dir, "n1")}, {Name: "netpol-test-n2", Dir: filepath.Join(dir, "n2")}}
	for _, n := range nodes {
		if err := n.Create(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			_ = n.Delete()
		}
	})
	inNode := func(n Node, script string) string {
		t.Helper()
		out, err := n.Command(ctx, "/bin/sh", "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("in %s: %s: %v: %s", n.Name, script, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	n1 := nodes[0]
	if got := inNode(n1, "hostname"); got != n1.Name {
		t.Errorf("hostname in the node %q, want %q (host: %q)", got, n1.Name, hostName)
	}
	if got := inNode(n1, "readlink /proc/self/ns/net"); got == hostNet {
		t.Errorf("the node shares the host's network namespace %s", got)
	}
	if got := inNode(n1, "ls /sys/class/net"); got != "lo" {
		t.Errorf("/sys/class/net in the node lists %q, want only lo", got)
	}
	if got := inNode(n1, "cat /sys/class/net/lo/operstate"); got == "down" {
		t.Errorf("lo is down in the node")
	}
	if got := inNode(n1, "test -d /sys/fs/cgroup/memory -o -f /sys/fs/cgroup/cgroup.controllers && echo ok"); got != "ok" {
		t.Errorf("the node sees no cgroup tree under /sys/fs/cgroup")
	}
	if got := inNode(n1, "findmnt -n -o FSTYPE /sys/fs/bpf"); got != "bpf" {
		t.Errorf("/sys/fs/bpf in the node is %q, want a bpffs", got)
	}
	// /run is the node's own: what a node writes there is neither on the
	// host nor in another node.
	inNode(n1, "echo n1 > /run/netpol-nodens-test")
	if _, err := os.Stat("/run/netpol-nodens-test"); err == nil {
		os.Remove("/run/netpol-nodens-test")
		t.Error("a file the node wrote in its /run is on the host's /run")
	}
	if _, err := os.Stat(filepath.Join(n1.Dir, "run", "netpol-nodens-test")); err != nil {
		t.Errorf("the node's /run is not its directory's run: %v", err)
	}
	if got := inNode(nodes[1], "cat /run/netpol-nodens-test 2>/dev/null || echo absent"); got != "absent" {
		t.Errorf("node 2 sees node 1's /run")
	}
	// /etc/iproute2 is the node's own copy of the host's: the node reads
	// the host's tables, and what it appends stays in the node.
	if host, err := os.ReadFile("/etc/iproute2/rt_tables"); err == nil {
		if got := inNode(n1, "cat /etc/iproute2/rt_tables"); got != strings.TrimSpace(string(host)) {
			t.Errorf("the node's rt_tables is not a copy of the host's:\n%s", got)
		}
		inNode(n1, "echo '77 netpol-nodens-test' >> /etc/iproute2/rt_tables")
		if now, _ := os.ReadFile("/etc/iproute2/rt_tables"); string(now) != string(host) {
			_ = os.WriteFile("/etc/iproute2/rt_tables", host, 0o644)
			t.Error("a line the node appended to its rt_tables is in the host's")
		}
		if got := inNode(nodes[1], "grep -c netpol-nodens-test /etc/iproute2/rt_tables || true"); got != "0" {
			t.Errorf("node 2 sees node 1's rt_tables line (%s)", got)
		}
	}
	// Every process sees the same namespaces: what a later command finds
	// is what the first one made.
	if a, b := inNode(n1, "readlink /proc/self/ns/mnt"), inNode(n1, "readlink /proc/self/ns/mnt"); a != b {
		t.Errorf("two commands in one node are in mount namespaces %s and %s", a, b)
	}
	netInode := inNode(n1, "stat -L -c %i /proc/self/ns/net")

	// A socket made on a thread inside the node stays the node's: the
	// harness checks a node's ports and health from the host this way.
	var l net.Listener
	if err := InNetNS(n1.Pin("net"), func() (err error) { l, err = net.Listen("tcp", "127.0.0.1:0"); return err }); err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Write([]byte("from the node"))
			c.Close()
		}
	}()
	if err := PortFree(n1.Pin("net"), addr); err == nil {
		t.Errorf("PortFree(%s) in node 1 = nil while the node listens there", addr)
	}
	if err := PortFree(nodes[1].Pin("net"), addr); err != nil {
		t.Errorf("PortFree(%s) in node 2 = %v: node 1's listener is not node 2's", addr, err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("the host reached %s, which only node 1 listens on", addr)
	}
	conn, err := n1.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("dialing %s in node 1: %v", addr, err)
	}
	got, _ := io.ReadAll(conn)
	conn.Close()
	l.Close()
	if string(got) != "from the node" {
		t.Errorf("read %q from the node's listener", got)
	}
	if self, _ := os.Readlink("/proc/thread-self/ns/net"); self != hostNet {
		t.Errorf("this thread is left in network namespace %s, not the host's %s", self, hostNet)
	}

	for _, n := range nodes {
		if err := n.Delete(); err != nil {
			t.Fatal(err)
		}
	}
	// No pin, and no process or mount anywhere still holds the namespace.
	if holders := holdersOf(netInode); len(holders) > 0 {
		t.Errorf("node 1's network namespace (inode %s) is still held: %v", netInode, holders)
	}
	after, err := hoststate.Capture(hoststate.Watch{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := hoststate.Diff(before, after); len(diff) > 0 {
		t.Errorf("the host changed:\n%s", strings.Join(diff, "\n"))
	}
	if err := nodes[0].Delete(); err != nil {
		t.Errorf("deleting a deleted node: %v", err)
	}
}

// holdersOf lists the processes with a namespace link, and the mounts in
// any process's mount table, naming the namespace inode.
func holdersOf(inode string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		for _, k := range []string{"net", "mnt", "uts"} {
			if l, err := os.Readlink(filepath.Join(p, "ns", k)); err == nil && strings.Contains(l, "["+inode+"]") {
				out = append(out, p+"/ns/"+k)
			}
		}
		if data, err := os.ReadFile(filepath.Join(p, "mountinfo")); err == nil && strings.Contains(string(data), "net:["+inode+"]") {
			out = append(out, p+"/mountinfo")
		}
	}
	return out
}
