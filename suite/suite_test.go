package suite

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/gomega"

	"k8s.io/kubernetes/test/e2e/framework"

	"github.com/netpol-conformance/netpol-conformance/cni"
	"github.com/netpol-conformance/netpol-conformance/internal/version"
	"github.com/netpol-conformance/netpol-conformance/profiles"
	"github.com/netpol-conformance/netpol-conformance/results"
	e2ereporters "k8s.io/kubernetes/test/e2e/reporters"
)

// config holds the suite's own flags, all under --netpol.*.
var config struct {
	cases              string
	caseDirs           string
	protocols          string
	probeTimeout       time.Duration
	convergenceTimeout time.Duration
	podStartTimeout    time.Duration
	agentImage         string
	agentBinary        string
	runID              string
	junitReport        string
	cni                string
	strict             bool
}

func registerFlags(fs *flag.FlagSet) {
	fs.StringVar(&config.cases, "netpol.cases", "", "run only cases whose name matches this regular expression")
	fs.StringVar(&config.caseDirs, "netpol.case-dir", "", "comma-separated case files or directories to run next to the built-in table")
	fs.StringVar(&config.protocols, "netpol.protocols", "TCP,UDP,SCTP", "protocols to probe; SCTP is skipped, with the reason, where the nodes' kernel lacks it")
	fs.DurationVar(&config.probeTimeout, "netpol.probe-timeout", time.Second, "bound on one probe")
	fs.DurationVar(&config.convergenceTimeout, "netpol.convergence-timeout", 20*time.Second, "how long a change may take to be enforced")
	fs.DurationVar(&config.podStartTimeout, "netpol.pod-start-timeout", 3*time.Minute, "how long the topology's pods may take to be ready")
	fs.StringVar(&config.agentImage, "netpol.agent-image", "localhost/netpol-conformance:local", "image of the agent pods: the suite's own image, built from the Dockerfile")
	fs.StringVar(&config.agentBinary, "netpol.agent-binary", "/netpol-conformance", "path of the netpol-conformance binary in the agent image")
	fs.StringVar(&config.runID, "netpol.run-id", "", "names this run's namespaces (netpol-<id>-x...); default: random")
	fs.StringVar(&config.junitReport, "netpol.junit-report", "", "write the JUnit report here: one testcase per spec, named for joining across runs")
	fs.StringVar(&config.cni, "netpol.cni", "", "the cluster's NetworkPolicy enforcer as NAME or NAME@VERSION, when detection cannot tell (e.g. an enforcer outside the cluster); default: detected")
	fs.BoolVar(&config.strict, "netpol.strict", false, "fail cases the CNI's profile lists as known deviations, too")
}

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
	framework.AfterReadingAllFlags(&framework.TestContext)
	if config.cni != "" {
		// A typo'd override must stop the run before it creates anything.
		if _, err := cni.Override(config.cni, cni.Detection{Name: cni.Unknown}); err != nil {
			fmt.Fprintf(os.Stderr, "--netpol.cni: %v\n", err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}

// progress is created on first use, after the flags are parsed.
var progress = sync.OnceValue(func() *e2ereporters.ProgressReporter {
	return e2ereporters.NewProgressReporter(framework.TestContext.ProgressReportURL)
})

// Sonobuoy shows progress posted to --progress-report-url: completed =
// passed specs, failures = their names.
var _ = ginkgo.ReportBeforeSuite(func(report ginkgo.Report) {
	progress().SetStartMsg()
	progress().SetTestsTotal(report.PreRunStats.SpecsThatWillRun)
})

var _ = ginkgo.ReportAfterEach(func(report ginkgo.SpecReport) {
	progress().ProcessSpecReport(report)
})

// The JUnit report users and Sonobuoy read: one testcase per spec, named
// "NetworkPolicy <case>" so reports of different runs and releases join on
// the name (tags are labels and may change), without the suite's own setup
// and reporting nodes, which would count as passed testcases.
var _ = ginkgo.ReportAfterSuite("netpol-conformance JUnit report", func(report ginkgo.Report) {
	progress().SetEndMsg()
	if config.junitReport == "" {
		return
	}
	framework.ExpectNoError(reporters.GenerateJUnitReportWithConfig(report, config.junitReport, reporters.JunitReportConfig{
		OmitSuiteSetupNodes: true,
		OmitLeafNodeType:    true,
		OmitSpecLabels:      true,
	}))
	runInfo.SuiteVersion = version.Get()
	runInfo.Started, runInfo.Finished = report.StartTime, report.EndTime
	runInfo.Strict = config.strict
	known, err := profiles.Builtin()
	framework.ExpectNoError(err, "loading the CNI profiles")
	framework.ExpectNoError(results.Finish(config.junitReport, runInfo, known))
})

// runInfo collects what the report says about the run; BeforeAll fills in
// the cluster's part. Until then the CNI is unknown, so a run that never
// reached the cluster reads no profile.
var runInfo = results.Metadata{CNI: cni.Detection{Name: cni.Unknown, Evidence: "the suite did not reach the cluster"}}

func TestNetworkPolicy(t *testing.T) {
	if !clusterGiven {
		t.Skip("no cluster named: the suite runs with --kubeconfig=PATH, or in a pod (see docs/suite.md)")
	}
	gomega.RegisterFailHandler(framework.Fail)
	suiteConfig, reporterConfig := framework.CreateGinkgoConfig()
	ginkgo.RunSpecs(t, "netpol-conformance", suiteConfig, reporterConfig)
}
