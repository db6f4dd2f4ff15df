package enforcer

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/netpol-conformance/netpol-conformance/localcluster/gobuild"
)

var calicoTestEnv = Env{
	Builder:      &gobuild.Builder{BinDir: "/repo/_output/bin"},
	Kubeconfig:   "/state/enforcer.kubeconfig",
	EnforcerUser: "netpol-local:enforcer",
	NodeName:     "netpol-local",
	StateDir:     "/state",
	IPAMDataDir:  "/state/cni/ipam",
}

func TestCalicoConflist(t *testing.T) {
	data, err := Calico{}.CNIConflist(calicoTestEnv)
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		CNIVersion string           `json:"cniVersion"`
		Plugins    []map[string]any `json:"plugins"`
	}
	if err := json.Unmarshal(data, &conf); err != nil {
		t.Fatalf("conflist is not JSON: %v\n%s", err, data)
	}
	if len(conf.Plugins) != 2 || conf.Plugins[0]["type"] != "calico" || conf.Plugins[1]["type"] != "portmap" {
		t.Fatalf("plugins = %v, want calico then portmap", conf.Plugins)
	}
	c := conf.Plugins[0]
	for key, want := range map[string]any{
		"datastore_type":         "kubernetes",
		"nodename":               "netpol-local",
		"nodename_file_optional": true,
		"log_file_path":          "/state/logs/calico-cni.log",
	} {
		if c[key] != want {
			t.Errorf("calico %s = %v, want %v", key, c[key], want)
		}
	}
	ipam, _ := c["ipam"].(map[string]any)
	if ipam["type"] != "host-local" || ipam["subnet"] != "usePodCidr" || ipam["dataDir"] != "/state/cni/ipam" {
		t.Errorf("ipam = %v, want host-local on usePodCidr in /state/cni/ipam", ipam)
	}
	if k, _ := c["kubernetes"].(map[string]any); k["kubeconfig"] != "/state/enforcer.kubeconfig" {
		t.Errorf("kubernetes = %v, want the enforcer's kubeconfig", k)
	}
	if p, _ := c["policy"].(map[string]any); p["type"] != "k8s" {
		t.Errorf("policy = %v, want k8s", p)
	}
	// Nothing of Calico may default to the host's /var/log/calico.
	if strings.Contains(string(data), "/var/") {
		t.Errorf("conflist names a host path:\n%s", data)
	}
}

func TestCalicoCNIPlugins(t *testing.T) {
	got := Calico{}.CNIPlugins(calicoTestEnv)
	// The plugin picks its role by argv[0]: it must be called "calico".
	if len(got) != 1 || got["calico"] != "/repo/_output/bin/calico" {
		t.Errorf("CNIPlugins = %v", got)
	}
}

func TestFelixEnv(t *testing.T) {
	env := felixEnv(calicoTestEnv)
	for _, want := range []string{
		"DATASTORE_TYPE=kubernetes",
		"KUBECONFIG=/state/enforcer.kubeconfig",
		"FELIX_FELIXHOSTNAME=netpol-local",
		"FELIX_IPTABLESBACKEND=NFT",
		"FELIX_NFTABLESMODE=Disabled",
		"FELIX_BPFENABLED=false",
		"FELIX_IPV6SUPPORT=false",
		"FELIX_ROUTESOURCE=WorkloadIPs",
		"FELIX_DEFAULTENDPOINTTOHOSTACTION=ACCEPT",
		"FELIX_HEALTHHOST=127.0.0.1",
		"FELIX_USAGEREPORTINGENABLED=false",
		"FELIX_PROMETHEUSMETRICSENABLED=false",
		"FELIX_LOGFILEPATH=none",
		"FELIX_LOGSEVERITYSYS=none",
		"FELIX_ENDPOINTSTATUSPATHPREFIX=none",
		// Read with os.Getenv: the case matters.
		"FELIX_DebugSkipCTLBCleanup=true",
	} {
		if !slices.Contains(env, want) {
			t.Errorf("Felix's environment lacks %s", want)
		}
	}
	seen := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if seen[strings.ToUpper(k)] {
			t.Errorf("%s is set twice", k)
		}
		seen[strings.ToUpper(k)] = true
		if strings.Contains(kv, "/var/") || strings.Contains(kv, "/run/") {
			t.Errorf("%s points Felix at a host path", kv)
		}
	}
}

func TestFelixChainInsertMode(t *testing.T) {
	const appendMode = "FELIX_CHAININSERTMODE=Append"
	if slices.Contains(felixEnv(calicoTestEnv), appendMode) {
		t.Error("a plain cluster runs Felix in Append mode: Calico's default, Insert, is what users run")
	}
	leaky := calicoTestEnv
	leaky.LeakInjection = true
	if !slices.Contains(felixEnv(leaky), appendMode) {
		t.Error("with leak injection Felix must append its jumps, or it moves them ahead of the injected rule")
	}
}

func TestCalicoLDFlags(t *testing.T) {
	got := calicoLDFlags()
	for _, want := range []string{
		"-X github.com/projectcalico/calico/pkg/buildinfo.Version=v3.31.0",
		"-X github.com/projectcalico/calico/pkg/buildinfo.GitRevision=" + calicoCommit,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ldflags %q lack %q", got, want)
		}
	}
	// The pseudo-version carries the commit's prefix and time.
	if !strings.HasSuffix(calicoVersion, "-"+calicoCommit[:12]) || !strings.Contains(calicoVersion, "-20251021213802-") || calicoBuildDate != "2025-10-21T21:38:02Z" {
		t.Errorf("version %s, commit %s and build date %s disagree", calicoVersion, calicoCommit, calicoBuildDate)
	}
}

func TestCalicoHTTPMachineryStub(t *testing.T) {
	if got := string(calicoHTTPMachineryGoMod()); !strings.Contains(got, "\nmodule github.com/projectcalico/calico/lib/httpmachinery\n") {
		t.Errorf("stub go.mod:\n%s", got)
	}
}

func TestCalicoPodLinkPrefix(t *testing.T) {
	// The CNI plugin names host ends cali + 11 hex characters.
	if got := (Calico{}).PodLinkPrefix(); got != "cali" {
		t.Errorf("PodLinkPrefix = %q, want cali", got)
	}
}

func TestCalicoDatastoreObjects(t *testing.T) {
	base := []string{"ClusterInformation/default", "Tier/adminnetworkpolicy", "Tier/default", "Tier/baselineadminnetworkpolicy"}
	for _, tc := range []struct {
		nodes int
		want  []string
	}{
		{1, base},
		// Namespace nodes get the VXLAN pool calico-node would create.
		{2, append(slices.Clone(base), "IPPool/default-ipv4-ippool")},
	} {
		objs := calicoDatastoreObjects("0123", Env{Nodes: tc.nodes, ClusterCIDR: "10.244.0.0/16"})
		var names []string
		for _, o := range objs {
			if _, err := gvrOf(o); err != nil {
				t.Error(err)
			}
			names = append(names, o.GetKind()+"/"+o.GetName())
		}
		if !slices.Equal(names, tc.want) {
			t.Errorf("%d nodes: objects = %v, want %v", tc.nodes, names, tc.want)
		}
		if ready, _, _ := unstructured.NestedBool(objs[0].Object, "spec", "datastoreReady"); !ready {
			t.Errorf("%d nodes: ClusterInformation default is not datastoreReady", tc.nodes)
		}
		if tc.nodes > 1 {
			pool := objs[len(objs)-1].Object
			if mode, _, _ := unstructured.NestedString(pool, "spec", "vxlanMode"); mode != "Always" {
				t.Errorf("IPPool vxlanMode = %q, want Always", mode)
			}
			if cidr, _, _ := unstructured.NestedString(pool, "spec", "cidr"); cidr != "10.244.0.0/16" {
				t.Errorf("IPPool cidr = %q, want the cluster CIDR", cidr)
			}
		}
	}
}

func TestCalicoNodeAnnotations(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     Env
		want    map[string]string
		wantErr bool
	}{
		{"host node of one", Env{Nodes: 1, NodeName: "n"}, nil, false},
		{"namespace node", Env{Nodes: 2, NodeName: "n2", NodeIP: "10.250.0.12", PodCIDR: "10.244.1.0/24"},
			map[string]string{calicoIPv4AddressAnnotation: "10.250.0.12/32", calicoVXLANAddrAnnotation: "10.244.1.1"}, false},
		{"no pod CIDR yet", Env{Nodes: 2, NodeName: "n2", NodeIP: "10.250.0.12"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := (Calico{}).NodeAnnotations(tc.env)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %t", err, tc.wantErr)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("annotations = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCalicoManifestObjectsFromFixture(t *testing.T) {
	manifests := map[string][]byte{
		calicoCRDsManifest: []byte(`---
# Source: crds
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: tiers.crd.projectcalico.org
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusterinformations.crd.projectcalico.org
`),
		calicoNodeManifest: []byte(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: calico-node
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: calico-cni-plugin
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
`),
		calicoFullManifest: []byte(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: calico-cni-plugin
rules: [{apiGroups: ["crd.projectcalico.org"], resources: [clusterinformations], verbs: [get]}]
`),
	}
	objs, err := calicoManifestObjects(manifests, "u")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.GetKind()+"/"+o.GetName())
	}
	want := []string{
		"CustomResourceDefinition/tiers.crd.projectcalico.org",
		"CustomResourceDefinition/clusterinformations.crd.projectcalico.org",
		"ClusterRole/calico-node", "ClusterRoleBinding/netpol-local:calico-node",
		"ClusterRole/calico-cni-plugin", "ClusterRoleBinding/netpol-local:calico-cni-plugin",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("objects = %v, want %v", names, want)
	}
	// The CNI plugin's role comes from calico.yaml, not the policy-only one.
	if rules := objs[4].Object["rules"].([]any); !strings.Contains(mustJSON(t, rules), "clusterinformations") {
		t.Errorf("calico-cni-plugin role is the policy-only one: %s", mustJSON(t, rules))
	}
	if subj := mustJSON(t, objs[3].Object["subjects"]); !strings.Contains(subj, `"name":"u"`) || !strings.Contains(subj, `"kind":"User"`) {
		t.Errorf("binding subjects = %s", subj)
	}

	delete(manifests, calicoFullManifest)
	manifests[calicoCRDsManifest] = []byte("kind: ConfigMap\nmetadata: {name: x}\n")
	_, err = calicoManifestObjects(manifests, "u")
	for _, want := range []string{"unexpected ConfigMap x", "manifests/calico.yaml: no ClusterRole calico-cni-plugin"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// TestCalicoManifestObjectsFromModule reads the pinned module's own
// manifests from the module cache, offline.
func TestCalicoManifestObjectsFromModule(t *testing.T) {
	if _, err := (&gobuild.Builder{}).ModuleDir(context.Background(), calicoModule, calicoVersion, "GOPROXY=off"); err != nil {
		t.Skipf("%s@%s is not in the module cache: %v", calicoModule, calicoVersion, err)
	}
	b := &gobuild.Builder{}
	manifests, err := readCalicoManifests(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := calicoManifestObjects(manifests, "u")
	if err != nil {
		t.Fatal(err)
	}
	crds := 0
	for _, o := range objs {
		if _, err := gvrOf(o); err != nil {
			t.Error(err)
		}
		if o.GetKind() == "CustomResourceDefinition" {
			crds++
		}
	}
	if crds < 20 {
		t.Errorf("%d CRDs in %s, want Calico's ~24", crds, calicoCRDsManifest)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
