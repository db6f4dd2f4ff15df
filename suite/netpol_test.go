package suite

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubernetes/test/e2e/framework"

	"github.com/netpol-conformance/netpol-conformance/agent"
	"github.com/netpol-conformance/netpol-conformance/cases"
	"github.com/netpol-conformance/netpol-conformance/cluster"
	"github.com/netpol-conformance/netpol-conformance/clusterpolicy"
	"github.com/netpol-conformance/netpol-conformance/cni"
	"github.com/netpol-conformance/netpol-conformance/profiles"
	"github.com/netpol-conformance/netpol-conformance/reachability"
	"github.com/netpol-conformance/netpol-conformance/record"
	"github.com/netpol-conformance/netpol-conformance/runner"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

// EnforcementSpec is the first spec: when it fails, nothing enforces
// NetworkPolicy here and every case is skipped with that one reason.
const EnforcementSpec = record.EnforcementCheck

// detected is the cluster's NetworkPolicy enforcer, and knownProfiles
// what is known of each: a departure is checked against the readings of
// detected's profile.
var (
	detected      cni.Detection
	knownProfiles profiles.Set
)

// current is the record of the spec running now; the AfterEach below
// completes it with the spec's outcome and journals it.
var current *record.Case

// journalSpec completes the running spec's record from its final state and
// appends it to the journal. Only a plain failure after a recorded departure
// stays a departure: an interrupt, a timeout, a panic or any other failure
// makes the case errored, whatever it observed before.
func journalSpec() {
	report := ginkgo.CurrentSpecReport()
	c := current
	current = nil
	if c == nil {
		c = &record.Case{Name: report.LeafNodeText, Started: metav1.NewTime(report.StartTime)}
	}
	c.Finished = metav1.Now()
	switch {
	case report.State == types.SpecStateSkipped:
		c.Outcome, c.Message = record.Skipped, strings.TrimSpace(report.Failure.Message)
	case report.State == types.SpecStateFailed && c.Outcome == record.Departed:
	case report.Failed():
		c.Outcome = record.Errored
		c.Message = fmt.Sprintf("%s: %s", report.State, record.Summary(report.Failure.Message))
		c.Detail = fmt.Sprintf("%s in %s at %s\n%s", report.State, report.Failure.FailureNodeType, report.Failure.Location, report.Failure.Message)
	default:
		c.Outcome = record.Passed
	}
	if journal == nil {
		return
	}
	if err := journal.Append(record.Entry{Case: c}); err != nil {
		framework.Failf("recording %s: %v", c.Name, err)
	}
}

// Ordered: the specs share one topology, created once. ContinueOnFailure:
// one case failing must not skip the rest.
var _ = ginkgo.Describe("NetworkPolicy", ginkgo.Ordered, ginkgo.ContinueOnFailure, func() {
	set, err := loadCases()
	if err != nil {
		framework.Failf("loading cases: %v", err)
	}

	var (
		env *cluster.Cluster
		run *runner.Runner
		// notEnforced is set by the first spec when a default deny has
		// no effect.
		notEnforced string
		// clusterWideSkip says, for each cluster-wide policy API, why
		// its cases cannot run here: not served, or served but not
		// enforced.
		clusterWideSkip = map[clusterpolicy.API]string{}
		// baselineTaken says why the cases with a
		// BaselineAdminNetworkPolicy cannot run: the cluster has its own.
		baselineTaken string
	)

	ginkgo.AfterEach(journalSpec)

	ginkgo.BeforeAll(func(ctx context.Context) {
		restConfig, err := framework.LoadConfig()
		framework.ExpectNoError(err, "loading the cluster's client config")
		restConfig.Timeout = timing.API
		client, err := kubernetes.NewForConfig(restConfig)
		framework.ExpectNoError(err, "creating a client")
		serverVersion, err := client.Discovery().ServerVersion()
		framework.ExpectNoError(err, "reading the cluster's version")
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		framework.ExpectNoError(err, "listing nodes")
		detected = detectCNI(ctx, client)
		knownProfiles, err = profiles.Builtin()
		framework.ExpectNoError(err, "loading the CNI profiles")
		if detected.Version == "" && knownProfiles.Profile(detected.Name) != nil {
			framework.Logf("the version of %s is unknown: its profile explains no failure; name it with --netpol.cni=%s@vX.Y.Z (NETPOL_CNI)", detected.Name, detected.Name)
		}
		dyn, err := dynamic.NewForConfig(restConfig)
		framework.ExpectNoError(err, "creating a dynamic client")
		served, err := cluster.DiscoverClusterPolicyAPIs(client.Discovery())
		framework.ExpectNoError(err, "discovering the cluster-wide policy APIs")
		found := record.Cluster{KubernetesVersion: serverVersion.GitVersion, Nodes: len(nodes.Items), CNI: detected,
			ClusterPolicyAPIs: cluster.ServedAPIs(ctx, dyn, served)}
		if journal != nil {
			framework.ExpectNoError(journal.Append(record.Entry{Cluster: &found}), "recording the cluster")
		}
		ginkgo.DeferCleanup(func(ctx context.Context) {
			framework.ExpectNoError(cluster.DeleteRun(ctx, client, dyn, runID), "deleting this run's namespaces and cluster-wide policies")
		})
		env, err = cluster.Setup(ctx, client, restConfig, cluster.Options{
			RunID: runID, AgentImage: config.agentImage, AgentBinary: config.agentBinary, Placement: placement,
			ProbeTimeout: timing.Probe, PodStartTimeout: timing.PodStart, NodeProbes: config.nodeProbes,
		})
		framework.ExpectNoError(err, "creating the standard topology")
		keys, notes := probeKeys(ctx, env)
		notes = append(notes, env.Notes...)
		if !config.nodeProbes {
			notes = append(notes, "traffic from nodes not probed: --netpol.node-probes=false (NETPOL_NODE_PROBES)")
		}
		if node, one := oneNode(env.Topology); one {
			notes = append(notes, fmt.Sprintf("cross-node paths not covered (all on node %s, of %d in the cluster): %s", node, len(nodes.Items), record.CrossNodeUncovered))
		}
		for _, api := range clusterpolicy.APIs {
			if why := env.ClusterAPIs.NotServed(api); why != "" {
				clusterWideSkip[api] = why
			}
		}
		baselineTaken, err = env.ForeignBaseline(ctx)
		framework.ExpectNoError(err, "looking for a BaselineAdminNetworkPolicy of the cluster's own")
		foreign, err := env.ForeignClusterPolicies(ctx)
		framework.ExpectNoError(err, "listing the cluster's own cluster-wide policies")
		if len(foreign) > 0 {
			notes = append(notes, fmt.Sprintf("cluster-wide policies not the suite's select its namespaces and decide traffic no case accounts for: %s", strings.Join(foreign, ", ")))
		}
		for _, s := range notes {
			framework.Logf("%s", s)
		}
		run = &runner.Runner{Cluster: env, Topology: env.Topology, Keys: keys, Notes: notes, Timing: timing,
			Readings: knownProfiles.Readings(detected.Name, detected.Version), Logf: framework.Logf}
	})

	ginkgo.It(EnforcementSpec, ginkgo.Label("enforcement"), func(ctx context.Context) {
		current = &record.Case{Name: EnforcementSpec, Started: metav1.Now()}
		var err error
		notEnforced, err = run.CheckEnforced(ctx, current)
		framework.ExpectNoError(err)
		if notEnforced != "" {
			framework.Failf("%s", notEnforced)
		}
	})

	// One check per cluster-wide policy API, before any case of it: skipped
	// where the cluster does not serve the API, failed where it serves it
	// and enforces nothing of it (CRDs with no implementation: the false
	// sense of security this suite exists to catch).
	for _, api := range clusterpolicy.APIs {
		name := record.ClusterWideCheck(api)
		ginkgo.It(name, ginkgo.Label("enforcement", "cluster-wide"), func(ctx context.Context) {
			current = &record.Case{Name: name, Started: metav1.Now()}
			if notEnforced != "" {
				ginkgo.Skip(notEnforced)
			}
			if why := clusterWideSkip[api]; why != "" {
				ginkgo.Skip(why)
			}
			why, err := run.CheckClusterWideEnforced(ctx, api, current)
			framework.ExpectNoError(err)
			if why != "" {
				clusterWideSkip[api] = why
				framework.Failf("%s", why)
			}
		})
	}

	for _, c := range set.Cases() {
		if !selected(c) {
			continue
		}
		for k := 1; k <= config.repeat; k++ {
			name := c.Name
			if config.repeat > 1 {
				// Each repetition is its own case in the record, so
				// every verdict is counted, not just the last.
				name = record.Repetition(c.Name, k)
			}
			ginkgo.It(name, labels(c), func(ctx context.Context) {
				current = &record.Case{Name: name, Started: metav1.Now()}
				if notEnforced != "" {
					ginkgo.Skip(notEnforced)
				}
				for _, api := range c.APIs() {
					if why := clusterWideSkip[api]; why != "" {
						ginkgo.Skip(why)
					}
				}
				if baselineTaken != "" && slices.ContainsFunc(c.ClusterObjects(), func(o clusterpolicy.Object) bool {
					return o.Kind() == clusterpolicy.KindBaselineAdminNetworkPolicy
				}) {
					ginkgo.Skip(baselineTaken)
				}
				if err := run.Run(ctx, c, current); err != nil {
					// Failf, not ExpectNoError: no struct dump, and the
					// message says why the case cannot be judged.
					framework.Failf("%v", err)
				}
				switch current.Outcome {
				case record.Departed:
					framework.Failf("%s\n%s", current.Message, current.Detail)
				case record.Skipped:
					ginkgo.Skip(current.Message)
				}
			})
		}
	}
})

// probeKeys returns the tables to probe, dropping protocols the flags leave
// out or the nodes cannot carry, each with the reason.
func probeKeys(ctx context.Context, env *cluster.Cluster) ([]reachability.Key, []string) {
	var keys []reachability.Key
	var skipped []string
	want := strings.Split(strings.ToUpper(config.protocols), ",")
	for _, p := range want {
		if !slices.Contains(topology.StandardProtocols, corev1.Protocol(p)) {
			framework.Failf("--netpol.protocols=%s: %q is not TCP, UDP or SCTP (comma-separated)", config.protocols, p)
		}
	}
	for _, proto := range topology.StandardProtocols {
		if !slices.Contains(want, string(proto)) {
			skipped = append(skipped, fmt.Sprintf("%s not probed: --netpol.protocols=%s", proto, config.protocols))
			continue
		}
		if proto == corev1.ProtocolSCTP {
			r, err := env.ProbeOne(ctx, "x/a", "x/b", reachability.Key{Port: 80, Protocol: proto}, 1)
			framework.ExpectNoError(err)
			if r.Outcome != agent.Allowed {
				// Worded without "error": Sonobuoy counts such log lines as
				// errors, and this is an expected limitation, said once.
				skipped = append(skipped, fmt.Sprintf("SCTP not probed: x/a -> x/b 80/SCTP with no policy was not answered (%s); the nodes' kernel probably lacks SCTP", strings.ReplaceAll(r.Detail, "error", "problem")))
				continue
			}
		}
		for _, port := range topology.StandardPorts {
			keys = append(keys, reachability.Key{Port: port, Protocol: proto})
		}
	}
	if len(keys) == 0 {
		framework.Failf("no protocol left to probe: %s", strings.Join(skipped, "; "))
	}
	return keys, skipped
}

// oneNode reports whether every pod of the topology runs on one node, and
// which.
func oneNode(topo *topology.Topology) (string, bool) {
	nodes := map[string]bool{}
	var last string
	for _, ns := range topo.Namespaces {
		for _, p := range ns.Pods {
			if p.Node != "" {
				nodes[p.Node], last = true, p.Node
			}
		}
	}
	return last, len(nodes) == 1
}

func loadCases() (*cases.Set, error) {
	if config.caseDirs == "" {
		return cases.Builtin()
	}
	return cases.LoadBuiltinAndPaths(strings.Split(config.caseDirs, ","), topology.Standard())
}

func selected(c *cases.Case) bool {
	if config.cases == "" {
		return true
	}
	re, err := regexp.Compile(config.cases)
	if err != nil {
		framework.Failf("--netpol.cases: %v", err)
	}
	return re.MatchString(c.Name)
}

// detectCNI names the cluster's enforcer, for the report and for reading
// failures against its profile. The user's --netpol.cni wins; a cluster
// that cannot be fully listed is still detected from what could be.
func detectCNI(ctx context.Context, client kubernetes.Interface) cni.Detection {
	inv, err := cluster.Inventory(ctx, client)
	if err != nil {
		framework.Logf("CNI detection sees only part of the cluster: %v", err)
	}
	d := cni.Detect(inv)
	if config.cni != "" {
		d, err = cni.Override(config.cni, d)
		framework.ExpectNoError(err, "--netpol.cni")
	}
	framework.Logf("NetworkPolicy enforcer: %s (%s)", d, d.Evidence)
	return d
}

// labels turns the case's family and tags into Ginkgo labels, so
// --ginkgo.label-filter selects by tag.
func labels(c *cases.Case) ginkgo.Labels {
	return append(ginkgo.Labels{c.Family}, c.Tags...)
}
