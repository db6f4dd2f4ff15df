package plugin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/netpol-conformance/netpol-conformance/cluster"
	"github.com/netpol-conformance/netpol-conformance/results"
)

// Faults in the middle of a real run, on a real cluster (the local one in
// CI: .ci/faults.sh): the suite killed, stopped, its enforcer killed. Each
// must give a failing or incomplete report, never a pass it did not
// observe, and leave no namespace behind once the plugin exits.
//
// NETPOL_LOCAL_KUBECONFIG names the cluster; NETPOL_KILL_ENFORCER, a shell
// command, kills its enforcer (the last fault: the cluster is not usable
// after it).

// faultAfter is when each fault strikes: the topology is up and the first
// cases are being probed.
const faultAfter = 25 * time.Second

func clusterKubeconfig(t *testing.T) string {
	t.Helper()
	kc := os.Getenv("NETPOL_LOCAL_KUBECONFIG")
	if kc == "" {
		t.Skip("NETPOL_LOCAL_KUBECONFIG is not set: these faults need a real cluster (.ci/faults.sh brings up the local one)")
	}
	return kc
}

// runOnCluster runs the entrypoint with the real suite (wrapped by wrap,
// if set) against the cluster, cleaning up as the plugin pod does.
func runOnCluster(t *testing.T, ctx context.Context, suite, kubeconfig string) (Outcome, *results.Run, string) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := ConfigFromEnv(env(map[string]string{
		EnvResultsDir: filepath.Join(dir, "results"), EnvConfigDir: filepath.Join(dir, "none"),
		EnvCases:        "^(deny-all-ingress-in-x|deny-all-egress-in-x|and-vs-or-one-peer|and-vs-or-two-peers|deny-all-everywhere|allow-all-ingress-overrides-deny)$",
		EnvCNI:          os.Getenv("NETPOL_CNI"),
		EnvProgressPort: "1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.SuiteBinary = suite
	cfg.ExtraArgs = []string{"--kubeconfig=" + kubeconfig}
	cfg.StopGrace = 40 * time.Second
	client := clientFor(t, kubeconfig)
	cfg.Cleanup = func(ctx context.Context, runID string) ([]string, error) {
		names, err := cluster.RunNamespaces(ctx, client, runID)
		if err != nil {
			return nil, err
		}
		return names, cluster.DeleteNamespaces(ctx, client, names)
	}
	var log strings.Builder
	o, err := Run(ctx, cfg, nil, &log)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	run, err := results.Load(o.Tarball)
	if err != nil {
		t.Fatalf("the report does not load: %v\n%s", err, log.String())
	}
	for _, c := range run.Cases {
		t.Logf("%-40s %-16s %.120s", c.Name, c.Verdict, c.Message)
	}
	// Nothing of the run may be left but namespaces already being deleted.
	left, err := cluster.RunNamespaces(context.Background(), client, run.Properties["runID"])
	if err != nil || len(left) > 0 {
		t.Errorf("left behind after the plugin exited: %v (%v)", left, err)
	}
	return o, run, log.String()
}

func clientFor(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// incomplete checks that a run cut short says so: not complete, failing,
// and every case it did not finish not run, with the reason.
func incomplete(t *testing.T, run *results.Run, log string, why string) {
	t.Helper()
	failing := 0
	for _, c := range run.Cases {
		if c.Verdict.Failing(false) {
			failing++
		}
		if c.Verdict == results.NotRun && !strings.Contains(c.Message, why) {
			t.Errorf("%s did not run and says %q, want %q", c.Name, c.Message, why)
		}
	}
	if run.Properties["complete"] != "false" || failing == 0 {
		t.Errorf("complete=%s with %d failing cases: want an incomplete, failing run\n%s", run.Properties["complete"], failing, log)
	}
}

// TestRealClusterSuiteKilled SIGKILLs the suite at 10 s, while it creates
// the topology (namespaces and pods half made, no case started), and at
// faultAfter, mid-case.
func TestRealClusterSuiteKilled(t *testing.T) {
	kc := clusterKubeconfig(t)
	suite := realSuite(t)
	for _, after := range []time.Duration{10 * time.Second, faultAfter} {
		t.Run(fmt.Sprintf("SIGKILL after %s", after), func(t *testing.T) {
			wrapper := filepath.Join(t.TempDir(), "killed-suite")
			mustWrite(t, wrapper, fmt.Sprintf("#!/bin/sh\n( sleep %d; kill -9 $$ ) &\nexec %s \"$@\"\n", int(after.Seconds()), suite))
			if err := os.Chmod(wrapper, 0o755); err != nil {
				t.Fatal(err)
			}
			_, run, log := runOnCluster(t, context.Background(), wrapper, kc)
			incomplete(t, run, log, "the suite was killed by signal 9")
		})
	}
}

func TestRealClusterSuiteStoppedMidCase(t *testing.T) {
	kc := clusterKubeconfig(t)
	suite := realSuite(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(faultAfter, cancel)
	_, run, log := runOnCluster(t, ctx, suite, kc)
	incomplete(t, run, log, "did not run: the plugin was stopped")
}

// Last: the cluster's enforcer is gone afterwards.
func TestRealClusterZEnforcerKilledMidRun(t *testing.T) {
	kc := clusterKubeconfig(t)
	kill := os.Getenv("NETPOL_KILL_ENFORCER")
	if kill == "" {
		t.Skip("NETPOL_KILL_ENFORCER is not set: no command to kill the enforcer with")
	}
	suite := realSuite(t)
	time.AfterFunc(faultAfter, func() {
		out, err := exec.Command("sh", "-c", kill).CombinedOutput()
		t.Logf("killed the enforcer: %v %s", err, out)
	})
	_, run, log := runOnCluster(t, context.Background(), suite, kc)
	failing := 0
	for _, c := range run.Cases {
		if c.Verdict.Failing(false) {
			failing++
		}
	}
	if failing == 0 {
		t.Errorf("no case failed after the enforcer was killed mid-run:\n%s", log)
	}
}
