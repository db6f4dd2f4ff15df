// Package localcluster runs a real single-node Kubernetes cluster as host
// processes (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
// containerd with runc, kubelet, kube-proxy, a bridge CNI) plus a chosen
// NetworkPolicy enforcer, all of it state, logs and pid files under one
// directory, and tears it down leaving the host as it found it.
//
// The design follows what was measured on this kind of machine
// (docs/local-cluster.md, "Facts measured here that the code relies on"):
// every quirk is handled at the line that needs it and says so.
package localcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/netpol-conformance/netpol-conformance/localcluster/gobuild"
	"github.com/netpol-conformance/netpol-conformance/localcluster/images"
	"github.com/netpol-conformance/netpol-conformance/localcluster/proc"
	"github.com/netpol-conformance/netpol-conformance/localcluster/render"
)

// Fixed network layout of the local cluster.
const (
	NodeName    = "netpol-local"
	ClusterCIDR = "10.244.0.0/16"
	NodePodCIDR = "10.244.0.0/24" // the first /24 kube-controller-manager allocates
	ServiceCIDR = "10.96.0.0/16"
	APIService  = "10.96.0.1" // first address of ServiceCIDR: the kubernetes Service
	Bridge      = "netpol0"
	CNIBinDir   = "/usr/lib/cni" // Debian's containernetworking-plugins
	APIPort     = 6443
)

// Options configure a Cluster.
type Options struct {
	// RepoRoot is the directory of netpol-conformance's go.mod; the
	// Kubernetes version it pins is the one built.
	RepoRoot string
	// StateDir holds everything the cluster writes (default _output/local).
	StateDir string
	// Enforcer names the NetworkPolicy driver (see enforcer.Names()).
	Enforcer string
	// Out receives progress lines.
	Out io.Writer
	// LeakInjection runs the enforcer so that InjectLeak can put a rule
	// ahead of it; only an enforcer.LeakInjector allows it.
	LeakInjection bool
	// Nodes is how many nodes the cluster has: 1 (or 0) is the host
	// itself, as the cluster always was; 2 to MaxNodes are namespace
	// nodes on a fabric (see nodes.go).
	Nodes int
}

// Cluster is the local cluster rooted at a state directory.
type Cluster struct {
	opts Options
	sup  *proc.Supervisor
}

// New returns the cluster of opts; it starts nothing.
func New(opts Options) (*Cluster, error) {
	if opts.RepoRoot == "" {
		return nil, errors.New("localcluster: RepoRoot is required")
	}
	if opts.StateDir == "" {
		opts.StateDir = filepath.Join(opts.RepoRoot, "_output", "local")
	}
	abs, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, fmt.Errorf("resolving state dir: %w", err)
	}
	opts.StateDir = abs
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	return &Cluster{opts: opts, sup: &proc.Supervisor{RunDir: filepath.Join(abs, "run"), LogDir: filepath.Join(abs, "logs")}}, nil
}

func (c *Cluster) path(elem ...string) string {
	return filepath.Join(append([]string{c.opts.StateDir}, elem...)...)
}

// StateDir is the directory that holds everything of the cluster.
func (c *Cluster) StateDir() string { return c.opts.StateDir }

// KubeconfigPath is the admin kubeconfig of the cluster.
func (c *Cluster) KubeconfigPath() string { return c.path("kubeconfig") }

func (c *Cluster) snapshotPath() string { return c.path("host-before.json") }
func (c *Cluster) recordPath() string   { return c.path("cluster.json") }

func (c *Cluster) builder() *gobuild.Builder {
	return &gobuild.Builder{
		RepoRoot: c.opts.RepoRoot,
		BinDir:   filepath.Join(c.opts.RepoRoot, "_output", "bin"),
		SrcDir:   filepath.Join(c.opts.RepoRoot, "_output", "src"),
		Log:      nil, // set per step to the build log
	}
}

// record is what `up` remembers for `down` and `status`.
type record struct {
	Enforcer string        `json:"enforcer"`
	Params   render.Params `json:"params"`
	// Components in start order; down stops them in reverse.
	Components []string  `json:"components"`
	StartedAt  time.Time `json:"startedAt"`
	// LeakInjection: the enforcer runs so that a leak can be injected.
	LeakInjection bool `json:"leakInjection,omitempty"`
	// Nodes are the namespace nodes of a multi-node cluster, each with
	// its parameters; none for a one-node cluster, whose node is the
	// host and whose Params are its node's.
	Nodes []nodeRecord `json:"nodes,omitempty"`
	// UpAt is when `up` finished: every check passed and the cluster DNS
	// runs. Unset while `up` runs and after it failed, even with every
	// component alive, so such a cluster is never reused as healthy.
	UpAt *time.Time `json:"upAt,omitempty"`
}

// nodeNames are the names of the cluster's nodes.
func (r *record) nodeNames() []string {
	if len(r.Nodes) == 0 {
		return []string{NodeName}
	}
	var out []string
	for _, n := range r.Nodes {
		out = append(out, n.Name)
	}
	return out
}

// nodeRecord is what `down` needs of a namespace node.
type nodeRecord struct {
	Name   string        `json:"name"`
	Params render.Params `json:"params"`
}

func (c *Cluster) loadRecord() (*record, error) {
	data, err := os.ReadFile(c.recordPath())
	if err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", c.recordPath(), err)
	}
	return &r, nil
}

func (c *Cluster) saveRecord(r *record) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding cluster record: %w", err)
	}
	_, err = render.WriteIfChanged(c.recordPath(), data, 0o644)
	return err
}

// params derives every path and address of the cluster and of its host
// node; nodeIP is where the API server listens.
func (c *Cluster) params(uplink, nodeIP string) render.Params {
	return c.nodeParams(c.hostNode(nodeIP), uplink)
}

// nodeParams derives every path and address of node n.
func (c *Cluster) nodeParams(n node, uplink string) render.Params {
	p := render.Params{
		NodeName: n.Name, NodeIP: n.IP, Uplink: uplink,
		ClusterCIDR: ClusterCIDR, NodePodCIDR: NodePodCIDR, ServiceCIDR: ServiceCIDR,
		ClusterDNS: DNSServiceIP, ClusterDomain: ClusterDomain,
		Bridge: Bridge, CNIBinDir: CNIBinDir, StateDir: c.opts.StateDir,
		ContainerdSocket:  n.path("containerd", "containerd.sock"),
		ContainerdRoot:    n.path("containerd", "root"),
		ContainerdState:   n.path("containerd", "state"),
		RuncRoot:          n.path("runc"),
		CNIConfDir:        n.path("cni", "net.d"),
		IPAMDataDir:       n.path("cni", "ipam"),
		PodLogsDir:        n.path("pod-logs"),
		SandboxImage:      images.Pause,
		KubeletKubeconfig: n.path("kubelet.kubeconfig"),
		ProxyKubeconfig:   c.path("kube-proxy.kubeconfig"),
		ClientCAFile:      c.path("pki", "ca.crt"),
	}
	p.CgroupRoot = n.cgroupRoot()
	p.GuardPorts = c.footprint(p).ports
	return p
}

// lock takes an exclusive lock on the state dir so two commands never act
// on one cluster at once.
func (c *Cluster) lock() (func(), error) {
	if err := os.MkdirAll(c.opts.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating state dir %s: %w", c.opts.StateDir, err)
	}
	f, err := os.OpenFile(c.path(".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another `local` command is running on %s", c.opts.StateDir)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// uplink returns the interface of the IPv4 default route and its address.
func uplink() (string, string, error) {
	out, err := exec.Command("ip", "-4", "-o", "route", "show", "default").Output()
	if err != nil {
		return "", "", fmt.Errorf("reading the default route: %w", err)
	}
	f := strings.Fields(string(out))
	dev := ""
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "dev" {
			dev = f[i+1]
			break
		}
	}
	if dev == "" {
		return "", "", errors.New("no IPv4 default route: cannot tell the uplink the guard must fence off")
	}
	ifc, err := net.InterfaceByName(dev)
	if err != nil {
		return "", "", fmt.Errorf("uplink %s: %w", dev, err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return "", "", fmt.Errorf("addresses of %s: %w", dev, err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			return dev, ipn.IP.String(), nil
		}
	}
	return "", "", fmt.Errorf("uplink %s has no IPv4 address", dev)
}

func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.opts.Out, format+"\n", args...)
}
