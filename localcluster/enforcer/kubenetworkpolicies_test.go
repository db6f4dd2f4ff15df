package enforcer

import (
	"context"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

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
	want := []string{"cmd/main.go", "pkg/networkpolicy/controller.go", "pkg/networkpolicy/nfqueue_xt.go"}
	if !slices.Equal(got, want) {
		t.Errorf("the patch touches %v, want %v", got, want)
	}
	for _, f := range want {
		if !strings.Contains(string(knpPatch), "\n# "+f) {
			t.Errorf("the patch header does not explain its change to %s", f)
		}
	}
	// The queue statement must be gone from the rules the controller
	// programs; it is what this kernel cannot load.
	if n := strings.Count(string(knpPatch), "\n-\tqueue := &expr.Queue{"); n != 2 {
		t.Errorf("the patch replaces %d native queue statements in controller.go, want 2", n)
	}
}

func TestKNPArgs(t *testing.T) {
	args := knpArgs(Env{Kubeconfig: "/state/enforcer.kubeconfig", NodeName: "netpol-local"})
	for _, want := range []string{
		"--kubeconfig=/state/enforcer.kubeconfig",
		"--hostname-override=netpol-local",
		"--nfqueue-id=100",
		"--fail-open=false",
		"--metrics-bind-address=127.0.0.1:9080",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	for _, a := range args {
		// Flags upstream v0.8.0 ignores or lacks would mislead a reader
		// of the process list.
		if strings.HasPrefix(a, "--disable-nri") || strings.HasPrefix(a, "--admin-network-policy") {
			t.Errorf("args %q include %q", args, a)
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
