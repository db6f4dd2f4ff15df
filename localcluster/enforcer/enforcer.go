// Package enforcer holds the NetworkPolicy enforcers the local cluster can
// run, each a Driver. A driver says how to build its binary, which host
// processes to start, how to tell it is ready and which host changes of its
// own to undo; the harness does the starting, stopping and the generic
// netfilter cleanup. Calico or Cilium fit in as further drivers.
package enforcer

import (
	"context"
	"fmt"
	"sort"

	"github.com/netpol-conformance/netpol-conformance/localcluster/gobuild"
	"github.com/netpol-conformance/netpol-conformance/localcluster/proc"
)

// Env is what a driver knows about the cluster it runs in.
type Env struct {
	Builder *gobuild.Builder
	// Kubeconfig authenticates as the enforcer's own identity, bound to a
	// read-only ClusterRole by the harness.
	Kubeconfig  string
	NodeName    string
	NodeIP      string
	ClusterCIDR string
	ServiceCIDR string
}

// Driver is one NetworkPolicy enforcer.
type Driver interface {
	// Name is the value of `local up --enforcer`.
	Name() string
	// Enforces reports whether the driver enforces NetworkPolicy at all.
	Enforces() bool
	// Build builds or reuses the driver's binaries.
	Build(ctx context.Context, env Env) error
	// Processes are the host processes the harness starts, in order.
	Processes(env Env) []proc.Spec
	// Ready returns nil once the enforcer enforces.
	Ready(ctx context.Context, env Env) error
	// Cleanup undoes host changes of the driver that the harness's generic
	// cleanup (new iptables chains, nftables tables, ipsets) does not cover.
	Cleanup(ctx context.Context, env Env) error
}

var drivers = map[string]Driver{}

func register(d Driver) { drivers[d.Name()] = d }

// Get returns the driver called name.
func Get(name string) (Driver, error) {
	d, ok := drivers[name]
	if !ok {
		return nil, fmt.Errorf("unknown enforcer %q (known: %v)", name, Names())
	}
	return d, nil
}

// Names lists the registered drivers.
func Names() []string {
	var n []string
	for k := range drivers {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}
