package suite

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubernetes/test/e2e/framework"

	"github.com/netpol-conformance/netpol-conformance/agent"
	"github.com/netpol-conformance/netpol-conformance/cases"
	"github.com/netpol-conformance/netpol-conformance/cluster"
	"github.com/netpol-conformance/netpol-conformance/cni"
	"github.com/netpol-conformance/netpol-conformance/model"
	"github.com/netpol-conformance/netpol-conformance/probing"
	"github.com/netpol-conformance/netpol-conformance/profiles"
	"github.com/netpol-conformance/netpol-conformance/reachability"
	"github.com/netpol-conformance/netpol-conformance/record"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

// EnforcementSpec is the first spec: when it fails, nothing enforces
// NetworkPolicy here and every case is skipped with that one reason.
const EnforcementSpec = record.EnforcementCheck

// apiTimeout bounds every request to the API server, so a server that
// accepts connections and never answers fails the run instead of hanging it.
const apiTimeout = 30 * time.Second

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
		c.Message = fmt.Sprintf("%s: %s", report.State, firstLine(report.Failure.Message))
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

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
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
		// keys are the port/protocol tables every pass probes.
		keys []reachability.Key
		// skipped explains protocols that are not probed.
		skipped []string
		// notEnforced is set by the first spec when a default deny has
		// no effect.
		notEnforced string
	)

	ginkgo.AfterEach(journalSpec)

	ginkgo.BeforeAll(func(ctx context.Context) {
		restConfig, err := framework.LoadConfig()
		framework.ExpectNoError(err, "loading the cluster's client config")
		restConfig.Timeout = apiTimeout
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
		found := record.Cluster{KubernetesVersion: serverVersion.GitVersion, Nodes: len(nodes.Items), CNI: detected}
		if journal != nil {
			framework.ExpectNoError(journal.Append(record.Entry{Cluster: &found}), "recording the cluster")
		}
		ginkgo.DeferCleanup(func(ctx context.Context) {
			framework.ExpectNoError(cluster.DeleteRun(ctx, client, runID), "deleting this run's namespaces")
		})
		env, err = cluster.Setup(ctx, client, restConfig, cluster.Options{
			RunID: runID, AgentImage: config.agentImage, AgentBinary: config.agentBinary, Placement: placement,
			ProbeTimeout: config.probeTimeout, PodStartTimeout: config.podStartTimeout,
		})
		framework.ExpectNoError(err, "creating the standard topology")
		keys, skipped = probeKeys(ctx, env)
		for _, s := range skipped {
			framework.Logf("%s", s)
		}
	})

	ginkgo.It(EnforcementSpec, ginkgo.Label("enforcement"), func(ctx context.Context) {
		current = &record.Case{Name: EnforcementSpec, Started: metav1.Now()}
		framework.ExpectNoError(env.Reset(ctx))
		deny := &cases.Stage{Topology: env.Topology, Policies: []networkingv1.NetworkPolicy{{
			ObjectMeta: metav1.ObjectMeta{Name: "netpol-conformance-enforced", Namespace: "x"},
			Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
		}}}
		framework.ExpectNoError(env.Apply(ctx, deny))
		key := reachability.Key{Port: 80, Protocol: corev1.ProtocolTCP}
		start := time.Now()
		var last agent.Result
		for time.Since(start) < config.convergenceTimeout {
			last, err = env.ProbeOne(ctx, "y/a", "x/a", key, 1)
			framework.ExpectNoError(err)
			if last.Outcome == agent.DeniedRefused || last.Outcome == agent.DeniedTimeout {
				enforcedIn = time.Since(start)
				current.Stages = append(current.Stages, record.Stage{Name: "default deny", Converged: true,
					TimeToEnforce: &metav1.Duration{Duration: enforcedIn.Round(time.Millisecond)}})
				return
			}
			select {
			case <-ctx.Done():
				framework.Failf("interrupted while waiting for the default deny: %v", ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
		current.Outcome = record.Departed
		notEnforced = fmt.Sprintf("NetworkPolicy is NOT enforced on this cluster: a default-deny ingress policy left y/a -> x/a %s %s after %v; every case is skipped",
			key, last.Outcome, config.convergenceTimeout)
		current.Message = notEnforced
		framework.Failf("%s", notEnforced)
	})

	for _, c := range set.Cases() {
		if !selected(c) {
			continue
		}
		for k := 1; k <= config.repeat; k++ {
			name := c.Name
			if config.repeat > 1 {
				// Each repetition is its own case in the record, so
				// every verdict is counted, not just the last.
				name = fmt.Sprintf("%s#%d", c.Name, k)
			}
			ginkgo.It(name, labels(c), func(ctx context.Context) {
				current = &record.Case{Name: name, Started: metav1.Now()}
				if notEnforced != "" {
					ginkgo.Skip(notEnforced)
				}
				runCase(ctx, env, c, keys, skipped)
			})
		}
	}
})

// runCase applies and checks each stage of the case on the shared
// topology (reset and verified first unless the last case left it
// verified), then removes its policies and checks that every destination
// answers again: the case's positive control.
func runCase(ctx context.Context, env *cluster.Cluster, c *cases.Case, keys []reachability.Key, skipped []string) {
	current.Notes = append(current.Notes, skipped...)
	r := &caseRun{env: env, keys: keys, viaService: c.ProbeVia == cases.ProbeViaService}
	if r.viaService {
		framework.ExpectNoError(env.EnsureServices(ctx, keys), "creating a Service in front of each pod")
		current.Notes = append(current.Notes, "probe-via service: probes go to a ClusterIP Service in front of each pod; a pod reaching itself through its own Service may be SNATed to the node (hairpin): implementation-defined")
	}
	// The topology is known to be allow-all when the previous case ended
	// with its positive control, probed the same way (directly or through
	// Services); otherwise (the first case, one that errored, the first to
	// probe through Services) it is reset and verified first.
	empty := &cases.Stage{Topology: env.Topology}
	if verifiedClean == nil || *verifiedClean != r.viaService {
		framework.ExpectNoError(env.Reset(ctx))
		if msg := r.check(ctx, empty, "reset before the case"); msg != "" {
			framework.Failf("the topology did not return to allow-all after removing every policy, so this case cannot be judged:\n%s", msg)
		}
	} else {
		// What the cluster enforces now: a first stage that expects the
		// same must still settle, or it would match before the enforcer
		// acted.
		m, err := empty.Model()
		framework.ExpectNoError(err)
		r.previous = r.tables(m)
	}
	verifiedClean = nil
	agentsBefore, err := env.AgentRestarts(ctx)
	framework.ExpectNoError(err)
	stages, err := c.Stages(env.Topology)
	framework.ExpectNoError(err)
	var failures []string
	for i := range stages {
		s := &stages[i]
		framework.ExpectNoError(env.Apply(ctx, s), "applying %s", s.Name())
		if msg := r.check(ctx, s, s.Name()); msg != "" {
			failures = append(failures, fmt.Sprintf("== %s\n%s", s.Name(), msg))
		}
		failures = append(failures, r.checkProbes(ctx, s)...)
	}
	// The positive control: with every policy of the case removed, every
	// destination answers again on every port and protocol, so none of the
	// case's denials was a dead or unreachable agent. It also measures how
	// long the removal took to be enforced.
	framework.ExpectNoError(env.Reset(ctx))
	if msg := r.check(ctx, &cases.Stage{Topology: env.Topology}, record.ResetStage); msg != "" {
		framework.Failf("positive control failed: with every policy removed the topology did not return to allow-all, so the case's denials cannot be trusted (a destination may not be answering):\n%s", msg)
	}
	agentsAfter, err := env.AgentRestarts(ctx)
	framework.ExpectNoError(err)
	for pod, was := range agentsBefore {
		if agentsAfter[pod] != was {
			framework.Failf("positive control failed: the agent of %s restarted during the case (%s, now %s): while it was down it refused connections, which reads as denials the policy never made", pod, was, agentsAfter[pod])
		}
	}
	verifiedClean = &r.viaService
	if c.KeepConnections {
		current.Notes = append(current.Notes, "established connections across steps are not probed by this version; new connections are")
	}
	if len(failures) > 0 {
		// Recorded as the cluster's behaviour, which a CNI's profile may
		// explain, and not an error of the run.
		current.Outcome = record.Departed
		current.Message = departureSummary(current.Departures)
		current.Reading = string(r.explainingReading(stages))
		current.Detail = strings.Join(failures, "\n")
		framework.Failf("%s\n%s", current.Message, current.Detail)
	}
}

// verifiedClean is set when the last case ended with its positive control:
// every policy removed and the topology verified allow-all, probed through
// Services or not as it says.
var verifiedClean *bool

// caseRun checks the stages of one case in turn.
type caseRun struct {
	env        *cluster.Cluster
	keys       []reachability.Key
	viaService bool
	// previous holds the last stage's expected tables.
	previous []*reachability.Table
	// observed holds each stage's last probe pass, and probed its single
	// probes, by stage name: what a CNI's reading is checked against.
	observed map[string][]*reachability.Table
	probed   map[string][]probeObservation
}

// probeObservation is one single-cell probe and what it observed.
type probeObservation struct {
	traffic  model.Traffic
	observed reachability.Outcome
}

// explainingReading returns the reading of the detected CNI's profile that
// reproduces every observation of the case, cell for cell, in every stage,
// or "" when none does. Each applicable reading is tried on its own.
func (r *caseRun) explainingReading(stages []cases.Stage) model.Reading {
	if r.observed == nil {
		return ""
	}
	for _, reading := range knownProfiles.Readings(detected.Name, detected.Version) {
		if r.reproduces(stages, reading) {
			return reading
		}
	}
	return ""
}

func (r *caseRun) reproduces(stages []cases.Stage, reading model.Reading) bool {
	matrix := r.env.Topology.MatrixKeys()
	for i := range stages {
		s := &stages[i]
		obs, ok := r.observed[s.Name()]
		if !ok {
			return false
		}
		m, err := model.NewReading(s.Topology, stages[0].Topology, s.Policies, []model.Reading{reading})
		if err != nil {
			return false
		}
		for j, k := range r.keys {
			t, err := m.Table(k, matrix, false)
			if err != nil || !reachability.Compare(t, obs[j]).Matches() {
				return false
			}
		}
		for _, p := range r.probed[s.Name()] {
			v, err := m.Evaluate(p.traffic)
			if err != nil || v.Defined() && reachability.OutcomeFor(v.Allowed) != p.observed {
				return false
			}
		}
	}
	return true
}

// check waits for the cluster to match the model in stage s and returns the
// failure message, or "" when it converged.
func (r *caseRun) check(ctx context.Context, s *cases.Stage, name string) string {
	start := time.Now()
	m, err := s.Model()
	framework.ExpectNoError(err)
	expected := r.tables(m)
	opts := probing.Options{Timeout: config.convergenceTimeout, Confirm: 1, Interval: 250 * time.Millisecond}
	if sameOutcomes(expected, r.previous) {
		// Nothing should change: the first pass matches before the
		// enforcer acted, so keep confirming for a while.
		opts.MinSettle = settleTime()
	}
	r.previous = expected
	var refused, timedOut, flows, leaked int
	observe := func(obs *cluster.Observation, err error) ([]*reachability.Table, error) {
		if err != nil {
			return nil, err
		}
		refused, timedOut = obs.Refused, obs.TimedOut
		flows, leaked = flows+obs.Flows, leaked+obs.Leaked
		for cell, detail := range obs.Errors {
			framework.Logf("probe error %s: %s", cell, detail)
		}
		return obs.Tables, nil
	}
	// A match is confirmed by a pass that sends ConfirmFlows new flows to
	// every denied cell: a denial that lets a tenth of new connections
	// through is caught with probability >= 99 % (probing.Leak, Detect).
	opts.ConfirmPass = func(ctx context.Context) ([]*reachability.Table, error) {
		return observe(r.env.ConfirmPass(ctx, r.keys, r.viaService, expected, probing.ConfirmFlows))
	}
	res, err := probing.Converge(ctx, start, expected, func(ctx context.Context) ([]*reachability.Table, error) {
		return observe(r.env.ProbePass(ctx, r.keys, r.viaService))
	}, opts)
	framework.ExpectNoError(err, "probing %s", name)
	stage := record.Stage{Name: name, Passes: len(res.Passes), Converged: res.Converged, Refused: refused, TimedOut: timedOut,
		ConfirmFlows: probing.ConfirmFlows, Flows: flows, Leaked: leaked}
	if res.Converged && opts.MinSettle == 0 {
		stage.TimeToEnforce = &metav1.Duration{Duration: res.TimeToEnforce.Round(time.Millisecond)}
	}
	current.Stages = append(current.Stages, stage)
	if r.observed == nil {
		r.observed, r.probed = map[string][]*reachability.Table{}, map[string][]probeObservation{}
	}
	r.observed[name] = res.Last()
	if res.Converged {
		for i, cmp := range res.Comparisons {
			for _, u := range cmp.Undefined {
				current.OwnReadings = append(current.OwnReadings, fmt.Sprintf("%s: %s -> %s %s: model's reading %s, observed %s", name, u.From, u.To, expected[i].Key, u.Expected.Outcome, u.Observed))
			}
		}
		return ""
	}
	// The last pass's wrong cells: those that never matched, or those that
	// flipped back after matching (flapping).
	for i, cmp := range res.Comparisons {
		k := expected[i].Key
		for _, w := range append(append([]reachability.Mismatch{}, cmp.Wrong...), cmp.Missing...) {
			current.Departures = append(current.Departures, record.Cell{Stage: name, From: w.From, To: w.To,
				Port: k.Port, Protocol: k.Protocol, Expected: w.Expected.Outcome, Observed: w.Observed})
		}
	}
	return probing.FailureMessage(expected, res, func(from, to string, k reachability.Key) string {
		v, err := m.Evaluate(model.Traffic{From: from, To: to, Port: k.Port, Protocol: k.Protocol})
		if err != nil {
			return err.Error()
		}
		return v.Explain()
	})
}

// tables are the model's tables for every probed key.
func (r *caseRun) tables(m *model.Model) []*reachability.Table {
	matrix := r.env.Topology.MatrixKeys()
	var expected []*reachability.Table
	for _, k := range r.keys {
		t, err := m.Table(k, matrix, false)
		framework.ExpectNoError(err)
		expected = append(expected, t)
	}
	return expected
}

// sameOutcomes reports whether two sets of tables hold the same outcomes.
func sameOutcomes(a, b []*reachability.Table) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for i := range a {
		for row := range a[i].From {
			for col := range a[i].To {
				if a[i].At(row, col).Outcome != b[i].At(row, col).Outcome {
					return false
				}
			}
		}
	}
	return true
}

// enforcedIn is how long the enforcement check's default deny took to show.
var enforcedIn time.Duration

// settleTime is how long a stage that changes nothing keeps being probed:
// twice what enforcement took here, and at least 2 s.
func settleTime() time.Duration {
	return max(2*enforcedIn, 2*time.Second)
}

// checkProbes runs a stage's single-cell probes once (after the matrix
// converged) and compares them with the model.
func (r *caseRun) checkProbes(ctx context.Context, s *cases.Stage) []string {
	env := r.env
	if len(s.Probes) == 0 {
		return nil
	}
	m, err := s.Model()
	framework.ExpectNoError(err)
	var failures []string
	for _, p := range s.Probes {
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		key := reachability.Key{Port: p.Port, Protocol: proto}
		if err := env.Probeable(p.From, p.To); err != nil {
			current.Notes = append(current.Notes, fmt.Sprintf("%s: probe %s -> %s %s not run: %v", s.Name(), p.From, p.To, key, err))
			continue
		}
		v, err := m.Evaluate(model.Traffic{From: p.From, To: p.To, Port: p.Port, Protocol: proto})
		framework.ExpectNoError(err)
		want := reachability.OutcomeFor(v.Allowed)
		// A cell that must be denied gets the confirming flows, as in the
		// matrix: one leaked flow shows it is not denied.
		flows := 1
		if want == reachability.Blocked {
			flows = probing.ConfirmFlows
		}
		res, err := env.ProbeOne(ctx, p.From, p.To, key, flows)
		framework.ExpectNoError(err)
		got := cluster.Outcome(res.Outcome)
		r.probed[s.Name()] = append(r.probed[s.Name()], probeObservation{traffic: model.Traffic{From: p.From, To: p.To, Port: p.Port, Protocol: proto}, observed: got})
		line := fmt.Sprintf("%s: probe %s -> %s %s: expected %s, observed %s (%s)", s.Name(), p.From, p.To, key, want, got, res.Outcome)
		switch {
		case got == want:
		case !v.Defined():
			current.OwnReadings = append(current.OwnReadings, line)
		default:
			failures = append(failures, "WRONG "+line+"\n"+v.Explain())
			current.Departures = append(current.Departures, record.Cell{Stage: s.Name(), From: p.From, To: p.To,
				Port: key.Port, Protocol: key.Protocol, Expected: want, Observed: got})
		}
	}
	return failures
}

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

// departureSummary says in one line how a case departed: the first line of
// a failure, which `sonobuoy results` and the reports show on its own.
func departureSummary(cells []record.Cell) string {
	if len(cells) == 0 {
		return "the cluster departs from the NetworkPolicy spec"
	}
	over, under := 0, 0
	for _, c := range cells {
		if c.Observed == reachability.Allowed {
			over++
		} else {
			under++
		}
	}
	first := cells[0]
	return fmt.Sprintf("the cluster departs from the NetworkPolicy spec in %d cells (%d allowed that must be denied, %d denied or unprobeable that must be allowed); first: %s: %s -> %s %s expected %s, observed %s",
		len(cells), over, under, first.Stage, first.From, first.To, first.Key(), first.Expected, first.Observed)
}
