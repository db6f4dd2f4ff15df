// Package render turns the local cluster's parameters into the bytes of its
// configuration files. It does no I/O except WriteIfChanged, so every file
// the harness writes can be checked by a unit test.
package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

// Params are the facts every configuration file is rendered from.
type Params struct {
	NodeName string
	// NodeIP is a non-loopback address of the node: pods reach the
	// apiserver by DNAT from the kubernetes Service to it
	// (docs/local-cluster.md, "apiserver on a non-loopback address").
	NodeIP string
	// Uplink is the interface of the default route, fenced off by the guard.
	Uplink      string
	ClusterCIDR string // all pods
	NodePodCIDR string // this node's pods, a subnet of ClusterCIDR
	ServiceCIDR string
	// ClusterDNS is the kube-dns Service's address kubelets give pods, in
	// ClusterDomain.
	ClusterDNS, ClusterDomain string
	// Bridge is the Linux bridge the CNI plugin creates for pods.
	Bridge string
	// CNIBinDir holds the Debian containernetworking-plugins.
	CNIBinDir string

	StateDir          string
	ContainerdSocket  string
	ContainerdRoot    string
	ContainerdState   string
	RuncRoot          string
	CNIConfDir        string
	IPAMDataDir       string
	PodLogsDir        string
	SandboxImage      string
	KubeletKubeconfig string
	ProxyKubeconfig   string
	ClientCAFile      string
	// GuardPorts are the TCP ports of the cluster the guard refuses on the uplink.
	GuardPorts []int
	// CgroupRoot is the cgroup kubelet puts its pods under: empty for
	// the host's root, a node's own on a namespace node (they share the
	// host's cgroup tree).
	CgroupRoot string `json:",omitempty"`
}

// Validate reports every missing field at once.
func (p Params) Validate() error {
	var errs []error
	for name, v := range map[string]string{
		"NodeName": p.NodeName, "NodeIP": p.NodeIP, "Uplink": p.Uplink, "ClusterCIDR": p.ClusterCIDR,
		"NodePodCIDR": p.NodePodCIDR, "ServiceCIDR": p.ServiceCIDR, "ClusterDNS": p.ClusterDNS, "ClusterDomain": p.ClusterDomain, "Bridge": p.Bridge, "CNIBinDir": p.CNIBinDir,
		"StateDir": p.StateDir, "ContainerdSocket": p.ContainerdSocket, "SandboxImage": p.SandboxImage,
	} {
		if v == "" {
			errs = append(errs, fmt.Errorf("render: %s is empty", name))
		}
	}
	// The state dir is written into the guard's nftables comment.
	if strings.ContainsAny(p.StateDir, "\"\n\\") {
		errs = append(errs, fmt.Errorf("render: state dir %q contains a quote, backslash or newline; use a plainer --state-dir", p.StateDir))
	}
	// The kernel limits a unix socket path to 107 bytes.
	if len(p.ContainerdSocket) > 100 {
		errs = append(errs, fmt.Errorf("render: containerd socket path %q is too long for a unix socket; use a shorter --state-dir", p.ContainerdSocket))
	}
	return errors.Join(errs...)
}

func execute(name, text string, data any) ([]byte, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(template.FuncMap{"join": strings.Join}).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("parsing %s template: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", name, err)
	}
	return b.Bytes(), nil
}

const containerdTmpl = `# Rendered by netpol-conformance local up; edits are overwritten.
version = 2
root = "{{.ContainerdRoot}}"
state = "{{.ContainerdState}}"
# Neither the harness nor Kubernetes needs these; "opt" would create /opt/containerd.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
oom_score = 0

[grpc]
  address = "{{.ContainerdSocket}}"

[ttrpc]
  address = "{{.ContainerdSocket}}.ttrpc"

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{{.SandboxImage}}"
  # The capability bounding set here lacks CAP_SYS_RESOURCE: without this,
  # every sandbox fails with runc's "can't get final child's PID from pipe".
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        # Its own root, so nothing lands in the host's /run/containerd/runc.
        Root = "{{.RuncRoot}}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{{.CNIBinDir}}"
    conf_dir = "{{.CNIConfDir}}"
    max_conf_num = 1
`

// Containerd renders containerd's config.toml.
func Containerd(p Params) ([]byte, error) { return execute("containerd", containerdTmpl, p) }

// CNI renders the bridge network's conflist. ipMasq is off: pod traffic is
// never NATed towards the uplink (and the guard drops it anyway).
func CNI(p Params) ([]byte, error) {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "netpol-local",
		"plugins": []any{
			map[string]any{
				"type":        "bridge",
				"bridge":      p.Bridge,
				"isGateway":   true,
				"ipMasq":      false,
				"hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  []any{[]any{map[string]any{"subnet": p.NodePodCIDR}}},
					"routes":  []any{map[string]any{"dst": "0.0.0.0/0"}},
					"dataDir": p.IPAMDataDir,
				},
			},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding CNI conflist: %w", err)
	}
	return append(b, '\n'), nil
}

const kubeletTmpl = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroups are v1 (hybrid) and there is no systemd here.
cgroupDriver: cgroupfs
failCgroupV1: false
{{- if .CgroupRoot}}
cgroupRoot: {{.CgroupRoot}}
{{- end}}
# No CAP_SYS_RESOURCE in the bounding set: kubelet must not try to lower it.
oomScoreAdj: 0
containerRuntimeEndpoint: unix://{{.ContainerdSocket}}
address: {{.NodeIP}}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
podLogsDir: {{.PodLogsDir}}
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: {{.ClientCAFile}}
authorization:
  mode: Webhook
clusterDomain: {{.ClusterDomain}}
clusterDNS: [{{.ClusterDNS}}]
failSwapOn: false
registerNode: true
serializeImagePulls: false
# A test node must not evict its pods because the build cache filled a disk.
evictionHard:
  imagefs.available: "1%"
  nodefs.available: "1%"
  memory.available: "100Mi"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
`

// Kubelet renders the KubeletConfiguration.
func Kubelet(p Params) ([]byte, error) { return execute("kubelet", kubeletTmpl, p) }

const kubeProxyTmpl = `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: {{.ProxyKubeconfig}}
hostnameOverride: {{.NodeName}}
mode: iptables
clusterCIDR: {{.ClusterCIDR}}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# No CAP_SYS_RESOURCE in the bounding set.
oomScoreAdj: 0
# Zero leaves the host's conntrack sysctls untouched.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
iptables:
  # true would set net.ipv4.conf.all.route_localnet=1 on the host.
  localhostNodePorts: false
nodePortAddresses:
- {{.NodeIP}}/32
`

// KubeProxy renders the KubeProxyConfiguration.
func KubeProxy(p Params) ([]byte, error) { return execute("kube-proxy", kubeProxyTmpl, p) }

// GuardTable is the nftables table the guard owns.
const GuardTable = "netpol_local_guard"

// GuardOwnerPrefix starts the guard table's comment; the state dir of the
// cluster that installed it follows.
const GuardOwnerPrefix = "state dir "

const guardTmpl = `table inet {{.Table}} {
	# The owner lets the next "local up" tell a live cluster from one a
	# killed run left behind.
	comment "{{.OwnerPrefix}}{{.P.StateDir}}"
	# Priority -300 runs before conntrack (-200) and every iptables-nft
	# chain of kube-proxy and the enforcer (0): their rules cannot undo it.
	chain forward {
		type filter hook forward priority -300; policy accept;
		iifname "{{.P.Uplink}}" counter drop comment "nothing is forwarded in from the uplink"
		oifname "{{.P.Uplink}}" counter drop comment "nothing is forwarded out to the uplink"
	}
	chain output {
		type filter hook output priority -300; policy accept;
		oifname "{{.P.Uplink}}" ip daddr { {{.P.ClusterCIDR}}, {{.P.ServiceCIDR}} } counter drop comment "cluster addresses never leave"
		oifname "{{.P.Uplink}}" ip saddr { {{.P.ClusterCIDR}}, {{.P.ServiceCIDR}} } counter drop comment "cluster addresses never leave"
	}
	chain input {
		type filter hook input priority -300; policy accept;
		iifname "{{.P.Uplink}}" tcp dport { {{.Ports}} } counter drop comment "cluster ports are not reachable from the uplink"
		iifname "{{.P.Uplink}}" ip saddr { {{.P.ClusterCIDR}}, {{.P.ServiceCIDR}} } counter drop comment "spoofed cluster sources"
	}
}
`

// Guard renders the nftables script (for `nft -f`) of the safety guard.
func Guard(p Params) ([]byte, error) {
	if len(p.GuardPorts) == 0 {
		return nil, errors.New("render: guard needs at least one port")
	}
	ports := make([]string, len(p.GuardPorts))
	for i, port := range p.GuardPorts {
		ports[i] = fmt.Sprint(port)
	}
	return execute("guard", guardTmpl, map[string]any{"Table": GuardTable, "OwnerPrefix": GuardOwnerPrefix, "P": p, "Ports": strings.Join(ports, ", ")})
}

// KubeconfigParams describe one client identity.
type KubeconfigParams struct {
	Server, CAFile, CertFile, KeyFile, User string
}

const kubeconfigTmpl = `apiVersion: v1
kind: Config
clusters:
- name: netpol-local
  cluster:
    server: {{.Server}}
    certificate-authority: {{.CAFile}}
users:
- name: {{.User}}
  user:
    client-certificate: {{.CertFile}}
    client-key: {{.KeyFile}}
contexts:
- name: netpol-local
  context:
    cluster: netpol-local
    user: {{.User}}
current-context: netpol-local
`

// Kubeconfig renders a kubeconfig that authenticates with a client certificate.
func Kubeconfig(k KubeconfigParams) ([]byte, error) { return execute("kubeconfig", kubeconfigTmpl, k) }

// WriteIfChanged writes data to path only when the file's content differs,
// and reports whether it wrote. kube-proxy exits whenever its config file is
// rewritten, even with identical content (docs/local-cluster.md, "kube-proxy
// exits when its config is rewritten"), so no config file of a running
// component is touched needlessly.
func WriteIfChanged(path string, data []byte, mode os.FileMode) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return false, fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("replacing %s: %w", path, err)
	}
	return true, nil
}
