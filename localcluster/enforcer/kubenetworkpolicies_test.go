package enforcer

import (
	"bytes"
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

// knpReleases are the two kube-network-policies drivers' releases, the
// default first.
var knpReleases = []*knpRelease{&knpDefault, &knpCNP}

// TestKNPDrivers: each release is registered under its own name, as its own
// type, with its own binary, version and patch; only the CNP driver serves
// a cluster-wide API.
func TestKNPDrivers(t *testing.T) {
	env := Env{Builder: &gobuild.Builder{BinDir: "/bin"}}
	for _, tc := range []struct {
		r          *knpRelease
		name       string
		version    string
		clusterAPI bool
	}{
		{&knpDefault, "kube-network-policies", "v0.8.0", false},
		{&knpCNP, "kube-network-policies-cnp", "v1.1.1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Get(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if d.Name() != tc.name || tc.r.name != tc.name {
				t.Errorf("driver %q of release %q, want %q", d.Name(), tc.r.name, tc.name)
			}
			if v, ok := d.(Versioned); !ok || v.Version() != tc.version || tc.r.version != tc.version {
				t.Errorf("%s: version %v (release %s), want %s", tc.name, v, tc.r.version, tc.version)
			}
			if !d.Enforces() {
				t.Errorf("%s does not enforce", tc.name)
			}
			ps := d.Processes(env)
			if len(ps) != 1 || ps[0].Path != "/bin/"+tc.name {
				t.Errorf("%s's processes %+v, want one running /bin/%s", tc.name, ps, tc.name)
			}
			if _, ok := d.(ClusterWidePolicies); ok != tc.clusterAPI {
				t.Errorf("%s implements ClusterWidePolicies: %v, want %v", tc.name, ok, tc.clusterAPI)
			}
		})
	}
	if knpDefault.patchID() == knpCNP.patchID() {
		t.Errorf("both releases' builds are stamped %s", knpDefault.patchID())
	}
	if _, ok := drivers["kube-network-policies"].(KubeNetworkPolicies); !ok {
		t.Errorf("kube-network-policies is a %T, want KubeNetworkPolicies", drivers["kube-network-policies"])
	}
	if _, ok := drivers["kube-network-policies-cnp"].(KubeNetworkPoliciesCNP); !ok {
		t.Errorf("kube-network-policies-cnp is a %T, want KubeNetworkPoliciesCNP", drivers["kube-network-policies-cnp"])
	}
}

// TestKNPPatchAppliesToPristineSource checks each patch against the
// pristine module of its release in the module cache, offline
// (GOPROXY=off) and without writing (the cache is read-only): a dry run
// with no fuzz.
func TestKNPPatchAppliesToPristineSource(t *testing.T) {
	if _, err := exec.LookPath("patch"); err != nil {
		t.Skip("patch(1) is not installed: ", err)
	}
	for _, r := range knpReleases {
		t.Run(r.version, func(t *testing.T) {
			ctx := context.Background()
			dir, err := (&gobuild.Builder{}).ModuleDir(ctx, knpModule, r.version, "GOPROXY=off")
			if err != nil {
				t.Skipf("%s@%s is not in the module cache (run `go mod download -json %s@%s`): %v", knpModule, r.version, knpModule, r.version, err)
			}
			if err := gobuild.ApplyPatch(ctx, dir, r.patch, true); err != nil {
				t.Fatalf("the patch does not apply to the pristine %s@%s in %s: %v", knpModule, r.version, dir, err)
			}
		})
	}
}

// TestKNPPatchScope keeps each patch to the files its header documents: a
// new file here needs its reason written there first.
func TestKNPPatchScope(t *testing.T) {
	for _, tc := range []struct {
		r     *knpRelease
		files []string
		// counts are the lines each patch must hold this many times.
		counts map[string]int
	}{
		{&knpDefault, []string{"cmd/main.go", "pkg/networkpolicy/controller.go", "pkg/networkpolicy/nfqueue_xt.go"}, map[string]int{
			// The queue statement must be gone from the rules the
			// controller programs; it is what this kernel cannot load.
			"\n-\tqueue := &expr.Queue{": 2,
		}},
		{&knpCNP, []string{"pkg/dataplane/accept_repeat.go", "pkg/dataplane/controller.go", "pkg/dns/dnsagent.go", "pkg/network/nfqueue_xt.go"}, map[string]int{
			// The queue statement must be gone from every rule
			// npa-v1alpha2 programs (the controller's two, the DNS
			// agent's one); it is what this kernel cannot load.
			"\n-\tqueue := &expr.Queue{": 2,
			"\n-\t\t\t&expr.Queue{":      1,
			// The label must no longer ride on the verdict, which this
			// kernel ignores.
			"\n-\t\t\tverdictOptions = append(verdictOptions, nfqueue.WithLabel(": 1,

			// Every chain that queues (postrouting, input, prerouting)
			// must start with the rule a repeated, accepted packet meets.
			"\n+\tc.addAcceptedRule(nft, table, ": 3,
		}},
	} {
		t.Run(tc.r.version, func(t *testing.T) {
			patch := string(tc.r.patch)
			var got []string
			for _, m := range regexp.MustCompile(`(?m)^\+\+\+ b/(\S+)$`).FindAllStringSubmatch(patch, -1) {
				got = append(got, m[1])
			}
			if !slices.Equal(got, tc.files) {
				t.Errorf("the patch touches %v, want %v", got, tc.files)
			}
			for _, f := range tc.files {
				if !strings.Contains(patch, "\n# "+f) {
					t.Errorf("the patch header does not explain its change to %s", f)
				}
			}
			if !strings.HasPrefix(patch, "# Our patch to "+knpModule+" "+tc.r.version+",") {
				t.Errorf("the patch header does not name %s %s", knpModule, tc.r.version)
			}
			for line, want := range tc.counts {
				if n := strings.Count(patch, line); n != want {
					t.Errorf("the patch holds %q %d times, want %d", line, n, want)
				}
			}
		})
	}
}

// TestKNPUnusedPatchesGone: exactly the patches the releases apply are
// shipped, each embedded from the file its release names.
func TestKNPUnusedPatchesGone(t *testing.T) {
	patches, err := filepath.Glob("patches/kube-network-policies-*.patch")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range knpReleases {
		f := filepath.Join("patches", r.patchFile)
		want = append(want, f)
		if r.patchFile != "kube-network-policies-"+r.version+".patch" {
			t.Errorf("%s's patch is %s, not named for its version", r.name, r.patchFile)
		}
		if data, err := os.ReadFile(f); err != nil || !bytes.Equal(data, r.patch) {
			t.Errorf("%s embeds a patch other than %s (%v)", r.name, f, err)
		}
	}
	slices.Sort(want)
	if !slices.Equal(patches, want) {
		t.Errorf("patches %v, want %v", patches, want)
	}
}

// TestKNPClusterWideCRDs checks the CRD the CNP driver installs against
// what npa-v1alpha2 watches: ClusterNetworkPolicy, served as
// knpCNPAPIVersion, of the experimental channel. Offline: it needs the
// module in the cache, where our go.mod (which pins the same version) puts
// it.
func TestKNPClusterWideCRDs(t *testing.T) {
	d, err := Get("kube-network-policies-cnp")
	if err != nil {
		t.Fatal(err)
	}
	cw, ok := d.(ClusterWidePolicies)
	if !ok {
		t.Fatal("kube-network-policies-cnp does not implement ClusterWidePolicies")
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
	if !served[knpCNPAPIVersion] {
		t.Errorf("the CRD serves %v, not %s, which npa-v1alpha2 watches", served, knpCNPAPIVersion)
	}
}

func TestKNPArgs(t *testing.T) {
	env := Env{Kubeconfig: "/state/enforcer.kubeconfig", NodeName: "netpol-local", Builder: &gobuild.Builder{BinDir: "/bin"}}
	for _, tc := range []struct {
		r    *knpRelease
		want []string
		// absent are flag prefixes that must not be passed, and why.
		absent map[string]string
	}{
		{&knpDefault, []string{
			"--kubeconfig=/state/enforcer.kubeconfig", // from our patch
			"--hostname-override=netpol-local",
			"--nfqueue-id=100",
			"--fail-open=false", // v0.8.0's default, stated on purpose
			"--netfilter-bug-1766-fix=false",
			"--metrics-bind-address=127.0.0.1:9080",
			"--v=2",
		}, map[string]string{
			// Flags upstream v0.8.0 ignores or lacks would mislead a
			// reader of the process list, or stop the process at start.
			"--disable-nri":          "ignored by v0.8.0",
			"--admin-network-policy": "no cluster-wide API in the default driver",
			"--strict-mode":          "v1.0's, unknown to v0.8.0",
		}},
		{&knpCNP, []string{
			"--kubeconfig=/state/enforcer.kubeconfig",
			"--hostname-override=netpol-local",
			"--nfqueue-id=100",
			// Both stated because upstream's defaults are what they
			// are: fail-open true, strict-mode true.
			"--fail-open=false",
			"--strict-mode=true",
			"--disable-nri=true",
			"--netfilter-bug-1766-fix=false",
			"--metrics-bind-address=127.0.0.1:9080",
			"--v=2",
		}, map[string]string{
			// v0.8.0's flags, which v1.1.1 lacks (each policy API has
			// its own main now): the process would not start.
			"--admin-network-policy":          "v0.8.0's, unknown to v1.1.1",
			"--baseline-admin-network-policy": "v0.8.0's, unknown to v1.1.1",
		}},
	} {
		t.Run(tc.r.version, func(t *testing.T) {
			args := tc.r.args(env)
			if !slices.Equal(args, tc.want) {
				t.Errorf("args\n%q, want\n%q", args, tc.want)
			}
			for _, a := range args {
				for prefix, why := range tc.absent {
					if strings.HasPrefix(a, prefix) {
						t.Errorf("args %q include %q (%s)", args, a, why)
					}
				}
			}
			if got := drivers[tc.r.name].Processes(env)[0].Args; !slices.Equal(got, args) {
				t.Errorf("%s runs with %q, not its release's args %q", tc.r.name, got, args)
			}
		})
	}
}

// TestKNPArgsExistUpstream: an unknown flag stops the process at start, so
// every flag a release passes must be one of that release's: declared in
// its source (v0.8.0's cmd/main.go; v1.1.1's pkg/cmd/cmd.go, which every
// main shares) or added by our patch (v0.8.0's --kubeconfig); -v is klog's.
func TestKNPArgsExistUpstream(t *testing.T) {
	decl := regexp.MustCompile(`\b(?:fs|flag)\.\w+Var\(&[\w.]+, "([^"]+)"`)
	for _, tc := range []struct {
		r     *knpRelease
		flags string // the file declaring its flags
	}{
		{&knpDefault, "cmd/main.go"},
		{&knpCNP, "pkg/cmd/cmd.go"},
	} {
		t.Run(tc.r.version, func(t *testing.T) {
			ctx := context.Background()
			dir, err := (&gobuild.Builder{}).ModuleDir(ctx, knpModule, tc.r.version, "GOPROXY=off")
			if err != nil {
				t.Skipf("%s@%s is not in the module cache: %v", knpModule, tc.r.version, err)
			}
			src, err := os.ReadFile(filepath.Join(dir, tc.flags))
			if err != nil {
				t.Fatal(err)
			}
			// The patch's added lines (none removes a flag).
			var added []string
			for _, l := range strings.Split(string(tc.r.patch), "\n") {
				if strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++") {
					added = append(added, l)
				}
			}
			known := map[string]bool{"v": true}
			for _, m := range decl.FindAllStringSubmatch(string(src)+"\n"+strings.Join(added, "\n"), -1) {
				known[m[1]] = true
			}
			if len(known) < 5 {
				t.Fatalf("found only flags %v in %s: the pattern no longer matches upstream's declarations", known, tc.flags)
			}
			for _, a := range tc.r.args(Env{Kubeconfig: "k", NodeName: "n"}) {
				name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
				if !known[name] {
					t.Errorf("%q: %s@%s has no flag %q (known: %v)", a, knpModule, tc.r.version, name, known)
				}
			}
		})
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
