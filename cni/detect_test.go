package cni

import (
	"strings"
	"testing"
)

func ds(ns, name string, containers ...Container) Workload {
	return Workload{Kind: "DaemonSet", Namespace: ns, Name: name, Containers: containers}
}

func ctr(name, image string, args ...string) Container {
	return Container{Name: name, Image: image, Args: args}
}

// coreDNS and kube-proxy are in every cluster and must never be mistaken
// for a plugin.
var everyCluster = []Workload{
	ds("kube-system", "kube-proxy", ctr("kube-proxy", "registry.k8s.io/kube-proxy:v1.34.2")),
	{Kind: "Deployment", Namespace: "kube-system", Name: "coredns", Containers: []Container{ctr("coredns", "registry.k8s.io/coredns/coredns:v1.11.3")}},
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name      string
		inv       Inventory
		want      string
		version   string
		enforces  bool
		provider  string
		evidences []string
	}{
		{
			name: "calico manifest install in kube-system",
			inv:  Inventory{Workloads: []Workload{ds("kube-system", "calico-node", ctr("calico-node", "docker.io/calico/node:v3.31.0"))}},
			want: "calico", version: "v3.31.0", enforces: true,
			evidences: []string{"DaemonSet kube-system/calico-node container calico-node image docker.io/calico/node:v3.31.0"},
		},
		{
			name: "calico operator install, image pinned by digest and tag",
			inv: Inventory{Workloads: []Workload{ds("calico-system", "calico-node",
				ctr("calico-node", "quay.io/calico/node:v3.29.1@sha256:0123456789abcdef"))}},
			want: "calico", version: "v3.29.1", enforces: true,
		},
		{
			name: "calico as a host process: only its CRDs and ClusterInformation",
			inv:  Inventory{APIGroups: []string{"apps", "crd.projectcalico.org"}, CalicoVersion: "v3.31.0"},
			want: "calico", version: "v3.31.0", enforces: true,
			evidences: []string{"API group crd.projectcalico.org", "calicoVersion v3.31.0"},
		},
		{
			name: "canal: calico's policy engine on flannel",
			inv: Inventory{Workloads: []Workload{ds("kube-system", "canal",
				ctr("calico-node", "docker.io/calico/node:v3.28.0"), ctr("kube-flannel", "quay.io/coreos/flannel:v0.15.1"))}},
			want: "calico", version: "v3.28.0", enforces: true, evidences: []string{"also present: flannel"},
		},
		{
			name: "cilium",
			inv:  Inventory{Workloads: []Workload{ds("kube-system", "cilium", ctr("cilium-agent", "quay.io/cilium/cilium:v1.18.2@sha256:abc"))}},
			want: "cilium", version: "v1.18.2", enforces: true,
		},
		{
			name: "AKS Azure CNI powered by Cilium",
			inv:  Inventory{Workloads: []Workload{ds("kube-system", "cilium", ctr("cilium-agent", "mcr.microsoft.com/oss/cilium/cilium:1.14.10-1"))}},
			want: "cilium", version: "v1.14.10-1", enforces: true, provider: "aks",
		},
		{
			name: "GKE Dataplane V2 runs Cilium as anetd",
			inv:  Inventory{Workloads: []Workload{ds("kube-system", "anetd", ctr("cilium-agent", "gke.gcr.io/cilium/cilium:v1.14.7-gke1"))}},
			want: "cilium", version: "v1.14.7-gke1", enforces: true, provider: "gke",
		},
		{
			name: "weave with its policy controller",
			inv: Inventory{Workloads: []Workload{ds("kube-system", "weave-net",
				ctr("weave", "weaveworks/weave-kube:2.8.1"), ctr("weave-npc", "weaveworks/weave-npc:2.8.1"))}},
			want: "weave", version: "v2.8.1", enforces: true,
		},
		{
			name: "weave without weave-npc enforces nothing",
			inv:  Inventory{Workloads: []Workload{ds("kube-system", "weave-net", ctr("weave", "weaveworks/weave-kube:2.8.1"))}},
			want: "weave", version: "v2.8.1", enforces: false,
		},
		{
			name: "antrea",
			inv:  Inventory{Workloads: []Workload{ds("kube-system", "antrea-agent", ctr("antrea-agent", "antrea/antrea-agent-ubuntu:v2.2.0"))}},
			want: "antrea", version: "v2.2.0", enforces: true,
		},
		{
			name: "kube-router",
			inv: Inventory{Workloads: []Workload{ds("kube-system", "kube-router",
				ctr("kube-router", "docker.io/cloudnativelabs/kube-router:v2.1.0", "--run-router=true", "--run-firewall=true"))}},
			want: "kube-router", version: "v2.1.0", enforces: true,
		},
		{
			name: "kube-router with its firewall off",
			inv: Inventory{Workloads: []Workload{ds("kube-system", "kube-router",
				ctr("kube-router", "cloudnativelabs/kube-router:v2.1.0", "--run-firewall=false"))}},
			want: "kube-router", version: "v2.1.0", enforces: false,
		},
		{
			name: "kube-network-policies on kindnet",
			inv: Inventory{Workloads: []Workload{
				ds("kube-system", "kindnet", ctr("kindnet-cni", "docker.io/kindest/kindnetd:v20250512-df8de77b")),
				ds("kube-system", "kube-network-policies", ctr("kube-network-policies", "registry.k8s.io/networking/kube-network-policies:v0.8.0"))}},
			want: "kube-network-policies", version: "v0.8.0", enforces: true,
		},
		{
			name: "flannel alone enforces nothing",
			inv:  Inventory{Workloads: []Workload{ds("kube-flannel", "kube-flannel-ds", ctr("kube-flannel", "docker.io/flannel/flannel:v0.26.1"))}},
			want: "flannel", version: "v0.26.1", enforces: false,
		},
		{
			name: "EKS VPC CNI with the policy agent on",
			inv: Inventory{Workloads: []Workload{ds("kube-system", "aws-node",
				ctr("aws-node", "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.19.0-eksbuild.1"),
				ctr("aws-eks-nodeagent", "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon/aws-network-policy-agent:v1.1.5-eksbuild.1",
					"--enable-network-policy=true"))}},
			want: "aws-vpc-cni", version: "v1.1.5-eksbuild.1", enforces: true, provider: "eks",
		},
		{
			name: "EKS VPC CNI with the policy agent off",
			inv: Inventory{Workloads: []Workload{ds("kube-system", "aws-node",
				ctr("aws-node", "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.19.0-eksbuild.1"),
				ctr("aws-eks-nodeagent", "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon/aws-network-policy-agent:v1.1.5-eksbuild.1",
					"--enable-network-policy=false"))}},
			want: "aws-vpc-cni", enforces: false, provider: "eks", version: "v1.1.5-eksbuild.1",
		},
		{
			name: "EKS with Calico's policy engine",
			inv: Inventory{Workloads: []Workload{
				ds("kube-system", "aws-node", ctr("aws-node", "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.19.0")),
				ds("calico-system", "calico-node", ctr("calico-node", "quay.io/calico/node:v3.29.0"))}},
			want: "calico", version: "v3.29.0", enforces: true, evidences: []string{"also present: aws-vpc-cni"},
		},
		{
			name: "AKS with Azure NPM",
			inv:  Inventory{Workloads: []Workload{ds("kube-system", "azure-npm", ctr("azure-npm", "mcr.microsoft.com/containernetworking/azure-npm:v1.5.45"))}},
			want: "azure-npm", version: "v1.5.45", enforces: true, provider: "aks",
		},
		{
			name: "Calico's CRDs left behind by a migration to Cilium",
			inv: Inventory{APIGroups: []string{"crd.projectcalico.org", "cilium.io"},
				Workloads: []Workload{ds("kube-system", "cilium", ctr("cilium-agent", "quay.io/cilium/cilium:v1.15.0"))}},
			want: "cilium", version: "v1.15.0", enforces: true, evidences: []string{"also present: calico"},
		},
		{
			name: "nothing recognisable",
			inv:  Inventory{APIGroups: []string{"apps", "networking.k8s.io"}},
			want: Unknown,
		},
		{
			name: "an image named like a plugin but not at a path boundary",
			inv:  Inventory{Workloads: []Workload{ds("default", "x", ctr("x", "example.com/mycalico/node:v1"))}},
			want: Unknown,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := tc.inv
			inv.Workloads = append(append([]Workload{}, everyCluster...), inv.Workloads...)
			got := Detect(inv)
			if got.Name != tc.want || got.Version != tc.version || got.Enforces != tc.enforces || got.Provider != tc.provider {
				t.Errorf("Detect() = %+v, want name %q version %q enforces %v provider %q", got, tc.want, tc.version, tc.enforces, tc.provider)
			}
			if got.Evidence == "" {
				t.Errorf("Detect() gave no evidence")
			}
			for _, e := range tc.evidences {
				if !strings.Contains(got.Evidence, e) {
					t.Errorf("evidence %q lacks %q", got.Evidence, e)
				}
			}
		})
	}
}

func TestOverride(t *testing.T) {
	detected := Detection{Name: "flannel", Version: "v0.26.1", Evidence: "DaemonSet kube-flannel/kube-flannel-ds"}
	tests := []struct {
		value    string
		want     Detection
		wantErr  string
		evidence string
	}{
		{value: "calico@v3.31.0", want: Detection{Name: "calico", Version: "v3.31.0", Enforces: true, Overridden: true}, evidence: "detection said flannel v0.26.1"},
		{value: "kube-router@2.1.0", want: Detection{Name: "kube-router", Version: "v2.1.0", Enforces: true, Overridden: true}},
		{value: "none", want: Detection{Name: "none", Overridden: true}},
		{value: "@v1.0.0", wantErr: "want NAME or NAME@VERSION"},
		{value: "clico@v3.31.0", wantErr: `unknown plugin "clico": want one of antrea, aws-vpc-cni, azure-npm, calico`},
		{value: "calico@latest", wantErr: `version "latest" is not a version`},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			got, err := Override(tc.value, detected)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Override(%q) error = %v, want one containing %q", tc.value, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Override(%q): %v", tc.value, err)
			}
			if !strings.Contains(got.Evidence, tc.evidence) || !strings.Contains(got.Evidence, "NETPOL_CNI="+tc.value) {
				t.Errorf("evidence %q lacks %q", got.Evidence, tc.evidence)
			}
			got.Evidence = ""
			if got != tc.want {
				t.Errorf("Override(%q) = %+v, want %+v", tc.value, got, tc.want)
			}
		})
	}
}

func TestSplitImage(t *testing.T) {
	tests := []struct{ image, repo, tag string }{
		{"calico/node:v3.31.0", "calico/node", "v3.31.0"},
		{"localhost:5000/calico/node:v3.31.0", "localhost:5000/calico/node", "v3.31.0"},
		{"localhost:5000/calico/node", "localhost:5000/calico/node", ""},
		{"quay.io/cilium/cilium@sha256:abc", "quay.io/cilium/cilium", ""},
	}
	for _, tc := range tests {
		if repo, tag := splitImage(tc.image); repo != tc.repo || tag != tc.tag {
			t.Errorf("splitImage(%q) = %q, %q; want %q, %q", tc.image, repo, tag, tc.repo, tc.tag)
		}
	}
}
