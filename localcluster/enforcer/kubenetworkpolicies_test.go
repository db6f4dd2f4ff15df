package enforcer

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/netpol-conformance/netpol-conformance/localcluster/gobuild"
)

// TestKNPPatchAppliesToPristineSource checks the patch against the pristine
// module in the module cache, offline (GOPROXY=off) and without writing
// (the cache is read-only): a dry run with no fuzz.
func TestKNPPatchAppliesToPristineSource(t *testing.T) {
	if _, err := exec.LookPath("patch"); err != nil {
		t.Skip("patch(1) is not installed: ", err)
	}
	ctx := context.Background()
	dir, err := (&gobuild.Builder{}).ModuleDir(ctx, knpModule, knpVersion, "GOPROXY=off")
	if err != nil {
		t.Skipf("%s@%s is not in the module cache (run `go mod download %s@%s`): %v", knpModule, knpVersion, knpModule, knpVersion, err)
	}
	if err := gobuild.ApplyPatch(ctx, dir, knpPatch, true); err != nil {
		t.Fatalf("the patch does not apply to the pristine %s@%s in %s: %v", knpModule, knpVersion, dir, err)
	}
}

// TestKNPPatchScope keeps the patch to the files its header documents: a
// new file here needs its reason written there first.
func TestKNPPatchScope(t *testing.T) {
	var got []string
	for _, m := range regexp.MustCompile(`(?m)^\+\+\+ b/(\S+)$`).FindAllStringSubmatch(string(knpPatch), -1) {
		got = append(got, m[1])
	}
	want := []string{"pkg/dataplane/accept_repeat.go", "pkg/dataplane/controller.go", "pkg/dns/dnsagent.go", "pkg/network/nfqueue_xt.go"}
	if !slices.Equal(got, want) {
		t.Errorf("the patch touches %v, want %v", got, want)
	}
	for _, f := range want {
		if !strings.Contains(string(knpPatch), "\n# "+f) {
			t.Errorf("the patch header does not explain its change to %s", f)
		}
	}
	// The queue statement must be gone from every rule npa-v1alpha2
	// programs (the controller's two, the DNS agent's one); it is what
	// this kernel cannot load.
	if n := strings.Count(string(knpPatch), "\n-\tqueue := &expr.Queue{"); n != 2 {
		t.Errorf("the patch replaces %d native queue statements in controller.go, want 2", n)
	}
	if n := strings.Count(string(knpPatch), "\n-\t\t\t&expr.Queue{"); n != 1 {
		t.Errorf("the patch replaces %d native queue statements in dnsagent.go, want 1", n)
	}
	// The label must no longer ride on the verdict, which this kernel
	// ignores, and every chain that queues (postrouting, input, prerouting)
	// must start with the rule a repeated, accepted packet meets.
	if !strings.Contains(string(knpPatch), "\n-\t\t\tverdictOptions = append(verdictOptions, nfqueue.WithLabel(") {
		t.Error("the patch leaves the label on the verdict")
	}
	if n := strings.Count(string(knpPatch), "\n+\tc.addAcceptedRule(nft, table, "); n != 3 {
		t.Errorf("the patch starts %d chains with addAcceptedRule, want 3", n)
	}
}

// TestKNPUnusedPatchesGone: only the patch Build applies is shipped.
func TestKNPUnusedPatchesGone(t *testing.T) {
	patches, err := filepath.Glob("patches/kube-network-policies-*.patch")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"patches/kube-network-policies-" + knpVersion + ".patch"}; !slices.Equal(patches, want) {
		t.Errorf("patches %v, want %v", patches, want)
	}
}

// TestKNPClusterWideCRDs checks the CRD the driver installs against what
// npa-v1alpha2 watches: ClusterNetworkPolicy, served as knpCNPVersion, of
// the experimental channel. Offline: it needs the module in the cache,
// where our go.mod (which pins the same version) puts it.
func TestKNPClusterWideCRDs(t *testing.T) {
	var d Driver = KubeNetworkPolicies{}
	cw, ok := d.(ClusterWidePolicies)
	if !ok {
		t.Fatal("kube-network-policies does not implement ClusterWidePolicies")
	}
	crds := cw.ClusterWideCRDs()
	ctx := context.Background()
	b := &gobuild.Builder{}
	if _, err := b.ModuleDir(ctx, crds.Module, crds.Version, "GOPROXY=off"); err != nil {
		t.Skipf("%s@%s is not in the module cache: %v", crds.Module, crds.Version, err)
	}
	objs, err := ClusterWideCRDObjects(ctx, Env{Builder: b}, crds)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].GetName() != "clusternetworkpolicies."+ClusterWideGroup {
		t.Fatalf("CRDs %v, want only clusternetworkpolicies.%s", objs, ClusterWideGroup)
	}
	crd := objs[0]
	if ch := crd.GetAnnotations()["policy.networking.k8s.io/channel"]; ch != "experimental" {
		t.Errorf("channel %q, want experimental (nodes peers, named ports)", ch)
	}
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	served := map[string]bool{}
	for _, v := range versions {
		m, _ := v.(map[string]any)
		name, _ := m["name"].(string)
		served[name], _ = m["served"].(bool)
	}
	if !served[knpCNPVersion] {
		t.Errorf("the CRD serves %v, not %s, which npa-v1alpha2 watches", served, knpCNPVersion)
	}
}

func TestKNPArgs(t *testing.T) {
	args := knpArgs(Env{Kubeconfig: "/state/enforcer.kubeconfig", NodeName: "netpol-local"})
	for _, want := range []string{
		"--kubeconfig=/state/enforcer.kubeconfig",
		"--hostname-override=netpol-local",
		"--nfqueue-id=100",
		// Both stated because upstream's defaults are what they are:
		// fail-open true, strict-mode true.
		"--fail-open=false",
		"--strict-mode=true",
		"--disable-nri=true",
		"--netfilter-bug-1766-fix=false",
		"--metrics-bind-address=127.0.0.1:9080",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	for _, a := range args {
		// v0.8.0's flags, which v1.1.1 lacks (each policy API has its own
		// main now): the process would not start.
		if strings.HasPrefix(a, "--admin-network-policy") || strings.HasPrefix(a, "--baseline-admin-network-policy") {
			t.Errorf("args %q include %q", args, a)
		}
	}
}

// TestKNPArgsExistUpstream: an unknown flag stops the process at start, so
// every flag knpArgs passes must be one of v1.1.1's (pkg/cmd/cmd.go, which
// every main shares; -v is klog's).
func TestKNPArgsExistUpstream(t *testing.T) {
	ctx := context.Background()
	dir, err := (&gobuild.Builder{}).ModuleDir(ctx, knpModule, knpVersion, "GOPROXY=off")
	if err != nil {
		t.Skipf("%s@%s is not in the module cache: %v", knpModule, knpVersion, err)
	}
	src, err := os.ReadFile(filepath.Join(dir, "pkg/cmd/cmd.go"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"v": true}
	for _, m := range regexp.MustCompile(`fs\.\w+Var\(&o\.\w+, "([^"]+)"`).FindAllStringSubmatch(string(src), -1) {
		known[m[1]] = true
	}
	for _, a := range knpArgs(Env{Kubeconfig: "k", NodeName: "n"}) {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !known[name] {
			t.Errorf("%q: %s@%s has no flag %q (known: %v)", a, knpModule, knpVersion, name, known)
		}
	}
}

func TestQueueBound(t *testing.T) {
	// Columns: queue number, peer portid, queue total, copy mode, copy
	// range, queue dropped, user dropped, last id, 1.
	const proc = "  100  31337     0 2 65531     0     0        7  1\n    3  424242     0 2 65531     0     0        0  1\n"
	tests := []struct {
		name    string
		content string
		id      int
		want    bool
	}{
		{"bound", proc, 100, true},
		{"other queue bound", proc, 10, false},
		{"prefix of another number", proc, 1, false},
		{"nothing bound", "", 100, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := queueBound(tt.content, tt.id); got != tt.want {
				t.Errorf("queueBound(%d) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}
