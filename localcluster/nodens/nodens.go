// Package nodens makes the local cluster's nodes: each a network, mount and
// UTS namespace on this one kernel, as kind's nodes are (virtual machines
// cannot run here), pinned by bind mounts in the node's directory so that
// they outlive the command that made them and die with `Delete`.
//
// Inside a node, /run, /var/lib and /var/log are the node's own (the
// runtime's shim sockets, CNI's cache and pod netns, kubelet's and the
// enforcers' hard-coded state), /sys shows the node's own devices with the
// host's cgroup tree under it, and /sys/fs/bpf is a bpffs of its own.
// Processes enter a node through nsenter, which execs in place: their pid
// and start time are their own, as the supervisor records them. (Go cannot
// join a mount namespace itself: its threads share CLONE_FS.)
package nodens

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Node is one node's namespaces, pinned under Dir.
type Node struct {
	// Name is the node's hostname.
	Name string
	// Dir holds the pins (ns/net, ns/mnt, ns/uts) and the node's private
	// run, var-lib and var-log directories.
	Dir string
}

// The namespaces a node has, in the order nsenter takes them.
var kinds = []string{"net", "mnt", "uts"}

// Pin is the file that keeps the node's namespace of kind alive.
func (n Node) Pin(kind string) string { return filepath.Join(n.Dir, "ns", kind) }

// privateDirs are the host directories a node has its own copy of, empty
// at first.
var privateDirs = map[string]string{"/run": "run", "/var/lib": "var-lib", "/var/log": "var-log"}

// copiedDirs are host directories a node has its own copy of, made from
// the host's when the node is created: the node's programs read what the
// host has there and may write, and their writes end with the node.
// kube-router's routing controller appends its routing table to
// /etc/iproute2/rt_tables.
var copiedDirs = map[string]string{"/etc/iproute2": "etc-iproute2"}

// PrivateDirOf reports the private directory path is under, if any: a
// process inside a node sees the node's own copy there, not the host's.
func PrivateDirOf(path string) (string, bool) {
	for host := range privateDirs {
		if path == host || strings.HasPrefix(path, host+"/") {
			return host, true
		}
	}
	return "", false
}

// setupScript runs inside the new namespaces, once. It first drops the
// copies of every namespace pin the new mount namespace inherited (other
// nodes', containerd's pod netns): a copy, even hidden under a bind mount,
// would keep that namespace alive after its own Delete.
const setupScript = `set -eu
findmnt -rn -t nsfs -o TARGET | sort -r | while read -r m; do umount -l "$m"; done
for pair in "$@"; do
	mount --bind "${pair#*=}" "${pair%%=*}"
done
stage=$(mktemp -d)
mount --rbind /sys/fs/cgroup "$stage"
mount -t sysfs sysfs /sys
mount --move "$stage" /sys/fs/cgroup
rmdir "$stage" 2>/dev/null || true
mount -t bpf bpf /sys/fs/bpf
hostname "$NODE_NAME"
ip link set lo up
`

// Create makes the node's namespaces. It fails if they exist.
func (n Node) Create(ctx context.Context) error {
	if err := n.validate(); err != nil {
		return err
	}
	if _, err := os.Stat(n.Pin("net")); err == nil {
		return fmt.Errorf("node %s: %s exists: delete the node first", n.Name, n.Pin("net"))
	}
	nsDir := filepath.Join(n.Dir, "ns")
	if err := os.MkdirAll(nsDir, 0o755); err != nil {
		return fmt.Errorf("node %s: %w", n.Name, err)
	}
	// unshare pins a namespace only on a mount that does not propagate
	// (systemd makes / shared): the pins' directory is a private mount of
	// its own.
	if !pinned(nsDir) {
		for _, args := range [][]string{{"--bind", nsDir, nsDir}, {"--make-private", nsDir}} {
			if out, err := exec.CommandContext(ctx, "mount", args...).CombinedOutput(); err != nil {
				return errors.Join(fmt.Errorf("node %s: mount %s: %w: %s", n.Name, strings.Join(args, " "), err, strings.TrimSpace(string(out))), n.Delete())
			}
		}
	}
	for _, k := range kinds {
		// unshare binds each namespace onto an existing file.
		if err := os.WriteFile(n.Pin(k), nil, 0o644); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	args := []string{
		"--net=" + n.Pin("net"), "--mount=" + n.Pin("mnt"), "--uts=" + n.Pin("uts"),
		"--propagation", "private", "--", "/bin/sh", "-c", setupScript, "setup",
	}
	for host, own := range privateDirs {
		dir := filepath.Join(n.Dir, own)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		args = append(args, host+"="+dir)
	}
	for host, own := range copiedDirs {
		if _, err := os.Stat(host); err != nil {
			// Nothing to copy, and no mount point to bind over: the
			// node sees the host's absence, and a write there fails.
			continue
		}
		dir := filepath.Join(n.Dir, own)
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		if out, err := exec.CommandContext(ctx, "cp", "-a", host, dir).CombinedOutput(); err != nil {
			return fmt.Errorf("node %s: copying %s: %w: %s", n.Name, host, err, strings.TrimSpace(string(out)))
		}
		args = append(args, host+"="+dir)
	}
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.Env = append(os.Environ(), "NODE_NAME="+n.Name)
	if out, err := cmd.CombinedOutput(); err != nil {
		return errors.Join(
			fmt.Errorf("node %s: creating its namespaces: %w: %s", n.Name, err, strings.TrimSpace(string(out))),
			n.Delete())
	}
	return nil
}

// Command runs name inside the node.
func (n Node) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "nsenter", append(n.EnterArgs(), append([]string{name}, args...)...)...)
}

// EnterArgs are nsenter's arguments, up to the program, to run in the node.
func (n Node) EnterArgs() []string {
	return []string{"--net=" + n.Pin("net"), "--mount=" + n.Pin("mnt"), "--uts=" + n.Pin("uts"), "--"}
}

// Delete unpins the node's namespaces; they end once no process is left in
// them. Deleting a node that does not exist does nothing.
func (n Node) Delete() error {
	if err := n.validate(); err != nil {
		return err
	}
	var errs []error
	for _, k := range kinds {
		pin := n.Pin(k)
		if pinned(pin) {
			if out, err := exec.Command("umount", pin).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("node %s: unpinning %s: %w: %s", n.Name, k, err, strings.TrimSpace(string(out))))
				continue
			}
		}
		if err := os.Remove(pin); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if nsDir := filepath.Join(n.Dir, "ns"); len(errs) == 0 && pinned(nsDir) {
		if out, err := exec.Command("umount", nsDir).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("node %s: unmounting %s: %w: %s", n.Name, nsDir, err, strings.TrimSpace(string(out))))
		}
	}
	return errors.Join(errs...)
}

// pinned reports whether path is a mount point in this mount namespace.
func pinned(path string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == path {
			return true
		}
	}
	return false
}

func (n Node) validate() error {
	if n.Name == "" || n.Dir == "" || !filepath.IsAbs(n.Dir) {
		return fmt.Errorf("node %q in %q: a name and an absolute directory are needed", n.Name, n.Dir)
	}
	return nil
}
