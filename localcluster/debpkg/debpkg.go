// Package debpkg installs the Debian packages the local cluster runs on
// (etcd, containerd, runc, CNI plugins, netfilter tools), only those missing.
package debpkg

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// Required are the packages `local up` needs, with what each provides.
var Required = []string{
	"etcd-server",                 // etcd 3.4
	"containerd",                  // containerd 1.6 and ctr
	"runc",                        // OCI runtime
	"containernetworking-plugins", // bridge, host-local, loopback in /usr/lib/cni
	"iptables",                    // iptables-nft, used by kube-proxy and kube-router
	"ipset",                       // kube-router
	"nftables",                    // the safety guard
	"conntrack",                   // kube-proxy flushes stale UDP entries
	"iproute2",                    // ip
	"patch",                       // applies our patches to enforcer sources
}

// Missing returns the packages of names that dpkg does not report installed.
func Missing(names []string) ([]string, error) {
	var missing []string
	for _, n := range names {
		out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", n).Output()
		if err != nil || strings.TrimSpace(string(out)) != "installed" {
			missing = append(missing, n)
		}
	}
	return missing, nil
}

// Ensure installs whatever of names is missing with apt-get,
// non-interactively; log receives apt's output.
func Ensure(names []string, log io.Writer) error {
	missing, err := Missing(names)
	if err != nil || len(missing) == 0 {
		return err
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
	if still, _ := Missing(names); len(still) > 0 {
		return fmt.Errorf("packages still missing after apt-get install: %s", strings.Join(still, " "))
	}
	return nil
}
