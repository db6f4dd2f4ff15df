package plugin

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netpol-conformance/netpol-conformance/clusterpolicy"
	"github.com/netpol-conformance/netpol-conformance/results"
)

// The entrypoint with the real suite, compiled from ./suite, under faults
// that need no cluster: an API server that accepts connections and never
// answers, the suite killed outright, the plugin stopped. Whatever happens,
// the report must fail and say why; a pass it did not observe is the one
// result that must never appear. (Faults mid-case, on a real cluster, are
// exercised by .ci/faults.sh.)

// realSuite compiles the suite once for these tests.
func realSuite(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("compiling the real suite takes a minute; -short skips it")
	}
	realSuiteOnce.Do(func() {
		realSuitePath = filepath.Join(testBinDir, "netpol-suite")
		out, err := exec.Command("go", "test", "-c", "-o", realSuitePath, "../../suite").CombinedOutput()
		if err != nil {
			realSuiteErr = fmt.Errorf("compiling the suite: %v\n%s", err, out)
		}
	})
	if realSuiteErr != nil {
		t.Fatal(realSuiteErr)
	}
	return realSuitePath
}

// silentAPIServer accepts connections and never answers, as an API server
// behind a dead load balancer or a stopped process's socket does. It
// returns a kubeconfig pointing at it.
func silentAPIServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		for _, c := range conns {
			c.Close()
		}
	})
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	mustWrite(t, kubeconfig, fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- {name: silent, cluster: {server: "https://%s", insecure-skip-tls-verify: true}}
users:
- {name: u, user: {token: t}}
contexts:
- {name: silent, context: {cluster: silent, user: u}}
current-context: silent
`, l.Addr()))
	return kubeconfig
}

// runReal runs the entrypoint with suite (the real one, or a wrapper) and
// returns the outcome and the classified report it left.
func runReal(t *testing.T, ctx context.Context, suite string, extra ...string) (Outcome, *results.Run, string) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := ConfigFromEnv(env(map[string]string{
		EnvResultsDir: filepath.Join(dir, "results"), EnvConfigDir: filepath.Join(dir, "none"),
		// Five specs: the enforcement checks (NetworkPolicy and each
		// cluster-wide policy API) and two cases.
		EnvCases: "^and-vs-or-",
		// Nothing listens: progress posts are refused and retried.
		EnvProgressPort: "1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.SuiteBinary = suite
	cfg.ExtraArgs = extra
	cfg.StopGrace = 40 * time.Second
	var log strings.Builder
	o, err := Run(ctx, cfg, nil, &log)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	checkResults(t, cfg.ResultsDir)
	run, err := results.Load(o.Tarball)
	if err != nil {
		t.Fatalf("the report does not load: %v\n%s", err, log.String())
	}
	return o, run, log.String()
}

// mustFailSaying checks that no case passed, that the run fails, and that
// every case that did not run says why.
func mustFailSaying(t *testing.T, run *results.Run, log string, why ...string) {
	t.Helper()
	failing := 0
	for _, c := range run.Cases {
		if c.Verdict == results.Pass {
			t.Errorf("case %s passed in a run that never reached a cluster", c.Name)
		}
		if c.Verdict.Failing(false) {
			failing++
		}
		if c.Verdict == results.NotRun && !strings.HasPrefix(c.Message, "did not run: ") {
			t.Errorf("case %s did not run and does not say why: %q", c.Name, c.Message)
		}
	}
	if want := 3 + len(clusterpolicy.APIs); failing == 0 || len(run.Cases) != want {
		t.Errorf("%d cases, %d failing: want %d cases, all failing", len(run.Cases), failing, want)
	}
	if run.Properties["complete"] != "false" {
		t.Errorf("the run is not marked incomplete: complete=%q", run.Properties["complete"])
	}
	var all []string
	for _, c := range run.Cases {
		all = append(all, c.Name+": "+string(c.Verdict)+": "+c.Message)
	}
	text := strings.Join(all, "\n")
	for _, w := range why {
		if !strings.Contains(text, w) {
			t.Errorf("the report does not say %q:\n%s\n--- plugin log:\n%s", w, text, log)
		}
	}
}

func TestRealSuiteAPIServerNeverAnswers(t *testing.T) {
	suite := realSuite(t)
	o, run, log := runReal(t, context.Background(), suite, "--kubeconfig="+silentAPIServer(t))
	if o.SuiteErr == nil {
		t.Errorf("the suite exited 0")
	}
	mustFailSaying(t, run, log, "reading the cluster's version", "did not run: the run's setup failed")
	if run.Properties["reachedCluster"] != "false" {
		t.Errorf("reachedCluster=%q", run.Properties["reachedCluster"])
	}
}

func TestRealSuiteKilled(t *testing.T) {
	suite := realSuite(t)
	for _, after := range []string{"2", "6"} {
		t.Run("SIGKILL after "+after+"s", func(t *testing.T) {
			wrapper := filepath.Join(t.TempDir(), "killed-suite")
			mustWrite(t, wrapper, fmt.Sprintf("#!/bin/sh\n( sleep %s; kill -9 $$ ) &\nexec %s \"$@\"\n", after, suite))
			if err := os.Chmod(wrapper, 0o755); err != nil {
				t.Fatal(err)
			}
			_, run, log := runReal(t, context.Background(), wrapper, "--kubeconfig="+silentAPIServer(t))
			mustFailSaying(t, run, log, "did not run: the suite was killed by signal 9")
		})
	}
}

func TestRealSuiteStopped(t *testing.T) {
	suite := realSuite(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(4*time.Second, cancel)
	_, run, log := runReal(t, ctx, suite, "--kubeconfig="+silentAPIServer(t))
	mustFailSaying(t, run, log, "did not run: ")
}

// With only $KUBECONFIG set, `go test ./suite` skips (so it never touches a
// developer's cluster); asked for a report, the suite must not skip and
// exit 0, which wrote no report and read as a pass.
func TestRealSuiteWithoutAClusterFlagFails(t *testing.T) {
	suite := realSuite(t)
	dir := t.TempDir()
	cmd := exec.Command(suite, "--netpol.junit-report="+filepath.Join(dir, JUnitFile))
	cmd.Env = append(os.Environ(), "KUBECONFIG="+silentAPIServer(t))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Errorf("the suite exited 0 with no cluster named:\n%s", out)
	}
}

var (
	realSuiteOnce sync.Once
	realSuitePath string
	realSuiteErr  error
)
