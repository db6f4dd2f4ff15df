package suite

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/kubernetes/test/e2e/framework"

	"github.com/netpol-conformance/netpol-conformance/agent"
	"github.com/netpol-conformance/netpol-conformance/cluster"
	"github.com/netpol-conformance/netpol-conformance/cni"
	"github.com/netpol-conformance/netpol-conformance/internal/version"
	"github.com/netpol-conformance/netpol-conformance/npareport"
	"github.com/netpol-conformance/netpol-conformance/profiles"
	"github.com/netpol-conformance/netpol-conformance/record"
	"github.com/netpol-conformance/netpol-conformance/results"
	"github.com/netpol-conformance/netpol-conformance/runner"
)

// config holds the suite's own flags, all under --netpol.*.
var config struct {
	cases             string
	caseDirs          string
	protocols         string
	agentImage        string
	agentPullSecrets  string
	agentNodeSelector string
	agentTolerations  string
	agentResources    string
	agentBinary       string
	runID             string
	junitReport       string
	cni               string
	strict            bool
	nodeProbes        bool
	repeat            int
}

func registerFlags(fs *flag.FlagSet) {
	fs.StringVar(&config.cases, "netpol.cases", "", "run only cases whose name matches this regular expression")
	fs.StringVar(&config.caseDirs, "netpol.case-dir", "", "comma-separated case files or directories to run next to the built-in table")
	fs.StringVar(&config.protocols, "netpol.protocols", "TCP,UDP,SCTP", "protocols to probe; SCTP is skipped, with the reason, where the nodes' kernel lacks it")
	fs.DurationVar(&timing.Probe, "netpol.probe-timeout", timing.Probe, "bound on one probe")
	fs.DurationVar(&timing.Convergence, "netpol.convergence-timeout", timing.Convergence, "how long a change may take to be enforced")
	fs.DurationVar(&timing.PodStart, "netpol.pod-start-timeout", timing.PodStart, "how long the topology's pods may take to be ready")
	fs.StringVar(&config.agentImage, "netpol.agent-image", "localhost/netpol-conformance:local", "image of the agent pods: the suite's own image, built from the Dockerfile")
	fs.StringVar(&config.agentPullSecrets, "netpol.agent-pull-secrets", "", "image pull secrets of the agent pods: NAME,...")
	fs.StringVar(&config.agentNodeSelector, "netpol.agent-node-selector", "", "node selector of the agent pods: KEY=VALUE,... (kubernetes.io/os=linux is always set)")
	fs.StringVar(&config.agentTolerations, "netpol.agent-tolerations", "", "tolerations of the agent pods: KEY[=VALUE]:EFFECT,..., or * for every taint")
	fs.StringVar(&config.agentResources, "netpol.agent-resources", "", "resources of the agent pods over the defaults: requests.cpu=10m,limits.memory=256Mi,...")
	fs.StringVar(&config.agentBinary, "netpol.agent-binary", "/netpol-agent", "path of the agent binary (cmd/netpol-agent) in the agent image")
	fs.StringVar(&config.runID, "netpol.run-id", "", "names this run's namespaces (netpol-<id>-x...); default: random")
	fs.StringVar(&config.junitReport, "netpol.junit-report", "", "write the JUnit report here: one testcase per spec, named for joining across runs")
	fs.StringVar(&config.cni, "netpol.cni", "", "the cluster's NetworkPolicy enforcer as NAME or NAME@VERSION, when detection cannot tell (e.g. an enforcer outside the cluster); default: detected")
	fs.BoolVar(&config.strict, "netpol.strict", false, "fail cases the CNI's profile lists as known deviations, too")
	fs.BoolVar(&config.nodeProbes, "netpol.node-probes", true, "probe from each node the pods run on, from a host-network pod there (in a namespace of Pod Security privileged); false leaves traffic from nodes out")
	fs.IntVar(&config.repeat, "netpol.repeat", 1, "run each selected case this many times in a row, as NAME#K, to measure how often its verdict holds (docs/reliability.md)")
}

// timing holds every wait of the run; three flags set parts of it.
var timing = runner.DefaultTiming()

// placement is where the agent pods run, from the --netpol.agent-* flags.
var placement cluster.AgentPlacement

// clusterGiven is true when the run names its cluster: --kubeconfig on the
// command line, or a pod's in-cluster config. $KUBECONFIG alone is not
// enough, so `go test ./...` never creates namespaces in whatever cluster a
// developer's shell points at.
var clusterGiven bool

func TestMain(m *testing.M) {
	framework.RegisterCommonFlags(flag.CommandLine)
	framework.RegisterClusterFlags(flag.CommandLine)
	registerFlags(flag.CommandLine)
	flag.Parse()
	flag.Visit(func(f *flag.Flag) { clusterGiven = clusterGiven || f.Name == "kubeconfig" })
	clusterGiven = clusterGiven || os.Getenv("KUBERNETES_SERVICE_HOST") != ""
	runID = config.runID
	if runID == "" {
		runID = rand.String(5)
	}
	// The id names namespaces and selects them for deletion.
	if errs := validation.IsDNS1123Label(runID); len(errs) > 0 || len(runID) > 20 {
		fmt.Fprintf(os.Stderr, "--netpol.run-id=%q: must be a DNS label of at most 20 characters (%s)\n", runID, strings.Join(errs, "; "))
		os.Exit(2)
	}
	// A retried spec would be recorded once per attempt, and a retry that
	// passes would hide the failure: this suite's verdicts come from one
	// observation each, confirmed by its own repeated flows.
	if s, _ := ginkgo.GinkgoConfiguration(); s.FlakeAttempts > 0 || s.MustPassRepeatedly > 0 {
		fmt.Fprintln(os.Stderr, "--ginkgo.flake-attempts and --ginkgo.must-pass-repeatedly are not supported: each case is judged on its own confirmed observation")
		os.Exit(2)
	}
	// First thing: a run killed at any point later can be cleaned up by id.
	fmt.Fprintf(os.Stderr, "netpol-conformance run id %s: its namespaces are netpol-%s-*\n", runID, runID)
	framework.AfterReadingAllFlags(&framework.TestContext)
	if config.repeat < 1 {
		fmt.Fprintf(os.Stderr, "--netpol.repeat=%d: must be at least 1\n", config.repeat)
		os.Exit(2)
	}
	if timing.Probe < agent.MinTimeout {
		fmt.Fprintf(os.Stderr, "--netpol.probe-timeout=%s is below the floor of %s: a probe that short reads slow answers as denials\n", timing.Probe, agent.MinTimeout)
		os.Exit(2)
	}
	var err error
	if placement, err = cluster.ParseAgentPlacement(config.agentPullSecrets, config.agentNodeSelector, config.agentTolerations, config.agentResources); err != nil {
		fmt.Fprintf(os.Stderr, "the agent pods' placement (--netpol.agent-*): %v\n", err)
		os.Exit(2)
	}
	if config.cni != "" {
		// A typo'd override must stop the run before it creates anything.
		if _, err := cni.Override(config.cni, cni.Detection{Name: cni.Unknown}); err != nil {
			fmt.Fprintf(os.Stderr, "--netpol.cni: %v\n", err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}

// running is set once the real run starts: the e2e framework's dry-run
// preview (framework.AfterReadingAllFlags) calls every report node first,
// with every spec "passed", and nothing it sees may be written or posted.
var running bool

// planned lists the specs the preview says will run, in run order.
var planned []record.Planned

// journal is the run's record, appended as each case finishes; nil when
// the run writes no report.
var journal *record.Journal

// runID names this run's namespaces; it is logged before anything else.
var runID string

var _ = ginkgo.ReportAfterSuite("netpol-conformance report", func(report ginkgo.Report) {
	if !running {
		for _, s := range report.SpecReports {
			if s.LeafNodeType == types.NodeTypeIt && s.State == types.SpecStatePassed {
				planned = append(planned, record.Planned{Name: s.LeafNodeText, Family: first(s.Labels()), Tags: rest(s.Labels())})
			}
		}
		return
	}
	if journal == nil {
		return
	}
	end := record.End{Finished: metav1.NewTime(report.EndTime)}
	if !report.SuiteSucceeded && len(report.SpecialSuiteFailureReasons) > 0 {
		end.Interrupted = "the suite stopped early: " + strings.Join(report.SpecialSuiteFailureReasons, "; ")
	}
	if setup := setupFailure(report); setup != "" && end.Interrupted == "" {
		end.Interrupted = "the run's setup failed: " + setup
	}
	framework.ExpectNoError(journal.Append(record.Entry{End: &end}))
	framework.ExpectNoError(journal.Close())
	rec, err := record.ReadFile(journal.Path())
	framework.ExpectNoError(err, "reading the run's journal back")
	cause := end.Interrupted
	if cause == "" {
		cause = "the suite finished without running it"
	}
	rec.Complete(cause, report.EndTime)
	known, err := profiles.Builtin()
	framework.ExpectNoError(err, "loading the CNI profiles")
	run, err := results.WriteReports(config.junitReport, rec, known)
	framework.ExpectNoError(err)
	set, err := loadCases()
	framework.ExpectNoError(err, "loading the cases")
	_, err = npareport.Write(filepath.Dir(config.junitReport), run, set, npareport.ImplementationOf(rec, known), report.EndTime)
	framework.ExpectNoError(err)
})

// setupFailure is the failure of a setup node (BeforeAll) that kept specs
// from running, or "".
func setupFailure(report ginkgo.Report) string {
	for _, s := range report.SpecReports {
		if s.Failed() && s.Failure.FailureNodeType == types.NodeTypeBeforeAll {
			return strings.TrimSpace(s.Failure.Message)
		}
	}
	return ""
}

func first(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return l[0]
}

func rest(l []string) []string {
	if len(l) < 2 {
		return nil
	}
	return l[1:]
}

// startJournal opens the run's journal next to the JUnit report with every
// spec the run will run.
func startJournal() error {
	if config.junitReport == "" {
		return nil
	}
	set, err := loadCases()
	if err != nil {
		return err
	}
	// A report an earlier run left here must not be read as this run's.
	for _, stale := range []string{config.junitReport, filepath.Join(filepath.Dir(config.junitReport), results.MetadataFile)} {
		if err := os.Remove(stale); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing an earlier run's report: %w", err)
		}
	}
	journal, err = record.Create(filepath.Join(filepath.Dir(config.junitReport), record.JournalFile), record.Start{
		RunID: runID, SuiteVersion: version.Get(), Started: metav1.Now(),
		Strict: config.strict, CaseSetDigest: set.Digest(), Planned: planned,
	})
	return err
}

func TestNetworkPolicy(t *testing.T) {
	if !clusterGiven && config.junitReport != "" {
		// Asked for a report: skipping would write none and exit 0.
		t.Fatal("no cluster named: --netpol.junit-report was given, but neither --kubeconfig nor a pod's in-cluster config")
	}
	if !clusterGiven {
		t.Skip("no cluster named: the suite runs with --kubeconfig=PATH, or in a pod (see docs/suite.md)")
	}
	gomega.RegisterFailHandler(framework.Fail)
	running = true
	if err := startJournal(); err != nil {
		t.Fatalf("starting the run's journal: %v", err)
	}
	suiteConfig, reporterConfig := framework.CreateGinkgoConfig()
	ginkgo.RunSpecs(t, "netpol-conformance", suiteConfig, reporterConfig)
}
