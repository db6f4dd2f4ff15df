package render

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testParams() Params {
	return Params{
		NodeName: "netpol-local", NodeIP: "192.0.2.2", Uplink: "eth0",
		ClusterCIDR: "10.244.0.0/16", NodePodCIDR: "10.244.0.0/24", ServiceCIDR: "10.96.0.0/16", ClusterDNS: "10.96.0.10", ClusterDomain: "cluster.local",
		Bridge: "netpol0", CNIBinDir: "/usr/lib/cni", StateDir: "/s",
		ContainerdSocket: "/s/containerd/containerd.sock", ContainerdRoot: "/s/containerd/root",
		ContainerdState: "/s/containerd/state", RuncRoot: "/s/runc", CNIConfDir: "/s/cni/net.d",
		IPAMDataDir: "/s/cni/ipam", PodLogsDir: "/s/pod-logs", SandboxImage: "localhost/pause:1",
		KubeletKubeconfig: "/s/kubelet.kubeconfig", ProxyKubeconfig: "/s/kube-proxy.kubeconfig",
		ClientCAFile: "/s/pki/ca.crt", GuardPorts: []int{6443, 10250},
	}
}

// Each rendered file must carry the lines this machine needs
// (docs/local-cluster.md, "Facts measured here that the code relies on" and
// "Safety"); losing one of them breaks the cluster in a way that is slow to
// diagnose.
func TestRenderedFilesCarryTheQuirks(t *testing.T) {
	p := testParams()
	tests := []struct {
		name   string
		render func(Params) ([]byte, error)
		want   []string
	}{
		{"containerd", Containerd, []string{
			"restrict_oom_score_adj = true",
			`Root = "/s/runc"`,
			`address = "/s/containerd/containerd.sock"`,
			`sandbox_image = "localhost/pause:1"`,
			`conf_dir = "/s/cni/net.d"`,
			"SystemdCgroup = false",
		}},
		{"kubelet", Kubelet, []string{
			"cgroupDriver: cgroupfs",
			"failCgroupV1: false",
			"oomScoreAdj: 0",
			"containerRuntimeEndpoint: unix:///s/containerd/containerd.sock",
			"address: 192.0.2.2",
			"clientCAFile: /s/pki/ca.crt",
			"clusterDomain: cluster.local",
			"clusterDNS: [10.96.0.10]",
		}},
		{"kube-proxy", KubeProxy, []string{
			"mode: iptables",
			"oomScoreAdj: 0",
			"hostnameOverride: netpol-local",
			"localhostNodePorts: false",
			"maxPerCore: 0",
		}},
		{"guard", Guard, []string{
			"table inet " + GuardTable,
			`comment "` + GuardOwnerPrefix + `/s"`,
			"priority -300",
			`iifname "eth0" counter drop`,
			`oifname "eth0" counter drop`,
			"ip daddr { 10.244.0.0/16, 10.96.0.0/16 }",
			"tcp dport { 6443, 10250 }",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.render(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("missing %q in:\n%s", w, out)
				}
			}
		})
	}
}

func TestCNIConflist(t *testing.T) {
	out, err := CNI(testParams())
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Plugins []struct {
			Type   string `json:"type"`
			IPMasq *bool  `json:"ipMasq"`
			Bridge string `json:"bridge"`
			IPAM   struct {
				Type    string `json:"type"`
				DataDir string `json:"dataDir"`
				Ranges  [][]struct {
					Subnet string `json:"subnet"`
				} `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(out, &conf); err != nil {
		t.Fatalf("conflist is not JSON: %v", err)
	}
	if len(conf.Plugins) != 1 {
		t.Fatalf("want 1 plugin, got %d", len(conf.Plugins))
	}
	b := conf.Plugins[0]
	if b.Type != "bridge" || b.Bridge != "netpol0" {
		t.Errorf("plugin = %s on %s, want bridge on netpol0", b.Type, b.Bridge)
	}
	if b.IPMasq == nil || *b.IPMasq {
		t.Error("ipMasq must be explicitly false: pod traffic is never NATed to the uplink")
	}
	if b.IPAM.Type != "host-local" || b.IPAM.DataDir != "/s/cni/ipam" || b.IPAM.Ranges[0][0].Subnet != "10.244.0.0/24" {
		t.Errorf("unexpected IPAM %+v", b.IPAM)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Params)
		wantErr []string
	}{
		{"complete", func(*Params) {}, nil},
		{"two missing", func(p *Params) { p.NodeIP, p.Uplink = "", "" }, []string{"NodeIP is empty", "Uplink is empty"}},
		{"state dir with a quote", func(p *Params) { p.StateDir = `/tmp/a"b` }, []string{"contains a quote"}},
		{"socket too long", func(p *Params) { p.ContainerdSocket = "/" + strings.Repeat("x", 120) }, []string{"too long"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams()
			tt.mutate(&p)
			err := p.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestGuardNeedsPorts(t *testing.T) {
	p := testParams()
	p.GuardPorts = nil
	if _, err := Guard(p); err == nil {
		t.Fatal("guard without ports rendered")
	}
}

func TestWriteIfChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "kube-proxy.yaml")
	steps := []struct {
		data        string
		wantChanged bool
	}{
		{"a: 1\n", true},
		{"a: 1\n", false}, // identical content: the file must not be touched
		{"a: 2\n", true},
	}
	for i, s := range steps {
		var before os.FileInfo
		if i > 0 {
			before, _ = os.Stat(path)
		}
		changed, err := WriteIfChanged(path, []byte(s.data), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if changed != s.wantChanged {
			t.Errorf("step %d: changed = %v, want %v", i, changed, s.wantChanged)
		}
		after, _ := os.Stat(path)
		if !s.wantChanged && !os.SameFile(before, after) {
			t.Errorf("step %d: file was replaced although content was identical", i)
		}
		got, _ := os.ReadFile(path)
		if string(got) != s.data {
			t.Errorf("step %d: content %q, want %q", i, got, s.data)
		}
	}
}
