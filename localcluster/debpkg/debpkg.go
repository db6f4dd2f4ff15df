// Package debpkg is the one list of external tools the project runs, as
// the Debian packages that provide them, and installs those missing. A
// fresh machine has only Go, gcc and apt: every executable the harness or
// CI calls that is not built from a Go module is in Packages, installed on
// first use by the command that needs it.
package debpkg

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// Use is what a package is needed for; each command ensures the packages
// of its own uses.
type Use string

// The uses, declared once.
const (
	// Cluster is `local up`: the node's runtime, netfilter tools, etcd.
	Cluster Use = "cluster"
	// Cilium is the Cilium driver, which compiles its BPF datapath at run time.
	Cilium Use = "cilium"
	// ImageBuild is `local build-image`: building the Dockerfile here.
	ImageBuild Use = "image-build"
	// BrowserTest is the HTML comparison's test in a real browser.
	BrowserTest Use = "browser-test"
	// CI is what the CI scripts and the build's version stamp call.
	CI Use = "ci"
)

// Uses lists every Use, in the order Packages is grouped.
var Uses = []Use{Cluster, Cilium, ImageBuild, BrowserTest, CI}

// Package is one Debian package, what it provides and what for.
type Package struct {
	Name     string
	Provides string
	Uses     []Use
}

// Packages is every external tool the project runs.
var Packages = []Package{
	{"etcd-server", "etcd 3.4", []Use{Cluster}},
	{"containerd", "containerd 1.6 and ctr", []Use{Cluster}},
	{"runc", "the OCI runtime of containerd and of buildah's RUN steps", []Use{Cluster, ImageBuild}},
	{"containernetworking-plugins", "bridge, host-local, loopback in /usr/lib/cni", []Use{Cluster}},
	{"iptables", "iptables-nft, used by kube-proxy and kube-router", []Use{Cluster}},
	{"ipset", "kube-router's address sets", []Use{Cluster}},
	{"nftables", "nft, the safety guard", []Use{Cluster}},
	{"conntrack", "kube-proxy flushes stale UDP entries", []Use{Cluster}},
	{"iproute2", "ip", []Use{Cluster}},
	{"util-linux", "unshare, nsenter, findmnt: the nodes' namespaces", []Use{Cluster}},
	{"patch", "applies our patches to enforcer sources", []Use{Cluster}},
	// Cilium 1.20 needs clang+LLVM >= 18.1; Debian 12's default clang is
	// 14, its clang-19 is 19.1.7, the LLVM Cilium's own images ship.
	{"clang-19", "clang and llc for Cilium's BPF datapath", []Use{Cilium}},
	{"buildah", "builds the Dockerfile without a Docker engine", []Use{ImageBuild}},
	{"busybox-static", "the shell and core utilities of the Go builder image", []Use{ImageBuild}},
	{"ca-certificates", "the builder image's trust in the Go module proxy", []Use{ImageBuild}},
	{"chromium", "the headless browser of results' TestHTMLInBrowser", []Use{BrowserTest}},
	{"git", "the checkout's revision in every report's version; CI's clean clone", []Use{CI}},
	{"procps", "sysctl inside the nodes of a multi-node cluster; pgrep and pkill in .ci/faults.sh", []Use{Cluster, CI}},
}

// For returns the names of the packages needed for use.
func For(use Use) []string {
	var names []string
	for _, p := range Packages {
		if slices.Contains(p.Uses, use) {
			names = append(names, p.Name)
		}
	}
	return names
}

// UseNames names every Use, for help, completion and errors.
func UseNames() []string {
	names := make([]string, len(Uses))
	for i, u := range Uses {
		names[i] = string(u)
	}
	return names
}

// ParseUse returns the Use named s.
func ParseUse(s string) (Use, error) {
	for _, u := range Uses {
		if string(u) == s {
			return u, nil
		}
	}
	return "", fmt.Errorf("unknown use %q: one of %s", s, strings.Join(UseNames(), ", "))
}

// Missing returns the packages of names that dpkg does not report installed.
func Missing(names []string) []string {
	var missing []string
	for _, n := range names {
		out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", n).Output()
		if err != nil || strings.TrimSpace(string(out)) != "installed" {
			missing = append(missing, n)
		}
	}
	return missing
}

// EnsureFor installs what use needs and is missing; see Ensure.
func EnsureFor(use Use, log io.Writer) error {
	if err := Ensure(For(use), log); err != nil {
		return fmt.Errorf("installing what %s needs: %w", use, err)
	}
	return nil
}

// Ensure installs whatever of names is missing with apt-get,
// non-interactively; log receives apt's output.
func Ensure(names []string, log io.Writer) error {
	missing := Missing(names)
	if len(missing) == 0 {
		return nil
	}
	fmt.Fprintf(log, "installing Debian packages: %s\n", strings.Join(missing, " "))
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	update := exec.Command("apt-get", "update", "-q")
	update.Env, update.Stdout, update.Stderr = env, log, log
	if err := update.Run(); err != nil {
		return fmt.Errorf("apt-get update: %w", err)
	}
	args := append([]string{"install", "-y", "-q", "--no-install-recommends"}, missing...)
	install := exec.Command("apt-get", args...)
	install.Env, install.Stdout, install.Stderr, install.Stdin = env, log, log, nil
	if err := install.Run(); err != nil {
		return fmt.Errorf("apt-get install %s: %w", strings.Join(missing, " "), err)
	}
	if still := Missing(names); len(still) > 0 {
		return fmt.Errorf("packages still missing after apt-get install: %s", strings.Join(still, " "))
	}
	return nil
}
