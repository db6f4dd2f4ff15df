// Package runner runs the cases of the table against a cluster: each
// case's stages applied in turn, each probed until the cluster matches the
// model or the convergence timeout passes, a match confirmed with enough
// fresh flows that a leaky denial shows, then the case's positive control.
// What it observes goes into the case's record.Case. It knows nothing of
// Ginkgo: the suite drives it against the real cluster (*cluster.Cluster),
// and its unit tests against runner/fakecluster, which answers from the
// model with injected leaks, flaps, lag and errors.
package runner

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netpol-conformance/netpol-conformance/agent"
	"github.com/netpol-conformance/netpol-conformance/cases"
	"github.com/netpol-conformance/netpol-conformance/clusterpolicy"
	"github.com/netpol-conformance/netpol-conformance/model"
	"github.com/netpol-conformance/netpol-conformance/probing"
	"github.com/netpol-conformance/netpol-conformance/reachability"
	"github.com/netpol-conformance/netpol-conformance/record"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

// Cluster is what the runner needs of a cluster: the suite's own
// namespaces and agent pods, policies applied and removed, probe passes.
// *cluster.Cluster is the real one.
type Cluster interface {
	// Reset removes every policy and restores every label of the topology.
	Reset(ctx context.Context) error
	// Apply brings the cluster to a stage's policies and labels.
	Apply(ctx context.Context, s *cases.Stage) error
	// EnsureServices puts a ClusterIP Service in front of each matrix pod.
	EnsureServices(ctx context.Context, keys []reachability.Key) error
	// ProbePass probes every cell of the matrix once per key.
	ProbePass(ctx context.Context, keys []reachability.Key, viaService bool) (*probing.Observation, error)
	// ConfirmPass probes as ProbePass, then sends flows new flows to
	// every cell expected denies; a cell is allowed when any answered.
	ConfirmPass(ctx context.Context, keys []reachability.Key, viaService bool, expected []*reachability.Table, flows int) (*probing.Observation, error)
	// ProbeOne probes one cell, also outside the matrix, with flows flows.
	ProbeOne(ctx context.Context, from, to string, key reachability.Key, flows int) (agent.Result, error)
	// Probeable says why a single probe cannot run, or nil.
	Probeable(from, to string) error
	// AgentRestarts returns each agent pod's restart state.
	AgentRestarts(ctx context.Context) (map[string]string, error)
}

// Runner runs cases one after the other on one cluster and topology. It
// keeps what one case leaves for the next: whether the topology was left
// verified allow-all, and how long enforcement takes here.
type Runner struct {
	Cluster  Cluster
	Topology *topology.Topology
	// Keys are the port/protocol tables every pass probes.
	Keys []reachability.Key
	// Notes go on every case: what the run does not probe and why.
	Notes  []string
	Timing Timing
	// Readings are those of the detected CNI's profile: a departure one of
	// them reproduces, cell for cell, is recorded with its name.
	Readings []model.Reading
	// Logf receives what is worth a line in the run's log.
	Logf func(format string, args ...any)

	// enforcedIn is how long the enforcement check's default deny took.
	enforcedIn time.Duration
	// verifiedClean is set when the last case ended with its positive
	// control: every policy removed and the topology verified allow-all,
	// probed through Services or not as it says.
	verifiedClean *bool
}

func (r *Runner) logf(format string, args ...any) {
	if r.Logf != nil {
		r.Logf(format, args...)
	}
}

// EnforcementCell is the cell the enforcement check watches.
var EnforcementCell = struct {
	From, To string
	Key      reachability.Key
}{"y/a", "x/a", reachability.Key{Port: 80, Protocol: corev1.ProtocolTCP}}

// CheckEnforced applies a default-deny ingress policy in x and watches one
// cell it denies until the denial shows, recording how long it took. It
// returns a one-line reason when the cluster does not enforce NetworkPolicy
// at all (every case is then skipped with it), "" when it does.
func (r *Runner) CheckEnforced(ctx context.Context, rec *record.Case) (notEnforced string, err error) {
	deny := &cases.Stage{Topology: r.Topology, Policies: []networkingv1.NetworkPolicy{{
		ObjectMeta: metav1.ObjectMeta{Name: "netpol-conformance-enforced", Namespace: "x"},
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
	}}}
	enforcedIn, last, err := r.watchDenied(ctx, deny, "default deny", rec)
	if err != nil || last == nil {
		r.enforcedIn = enforcedIn
		return "", err
	}
	cell := EnforcementCell
	rec.Outcome = record.Departed
	rec.Message = fmt.Sprintf("NetworkPolicy is NOT enforced on this cluster: a default-deny ingress policy left %s -> %s %s %s after %v; every case is skipped",
		cell.From, cell.To, cell.Key, last.Outcome, r.Timing.Convergence)
	return rec.Message, nil
}

// CheckClusterWideEnforced does for a cluster-wide policy API what
// CheckEnforced does for NetworkPolicy: it applies an Admin-tier Deny of
// the enforcement cell (from namespace y into x) and watches the cell. A
// cluster that serves the API but lets the cell through enforces none of
// it: the reason returned says so, and its cases are skipped with it.
func (r *Runner) CheckClusterWideEnforced(ctx context.Context, api clusterpolicy.API, rec *record.Case) (notEnforced string, err error) {
	deny := &cases.Stage{Topology: r.Topology, ClusterPolicies: []clusterpolicy.Object{clusterpolicy.Canary(api, "netpol-conformance-enforced", "x", "y")}}
	_, last, err := r.watchDenied(ctx, deny, "admin-tier deny", rec)
	if err == nil {
		// The canary must not outlive its check.
		err = r.Cluster.Reset(ctx)
	}
	if err != nil || last == nil {
		return "", err
	}
	cell := EnforcementCell
	rec.Outcome = record.Departed
	rec.Message = fmt.Sprintf("%s is served but NOT enforced on this cluster: an Admin-tier Deny from namespace y into x left %s -> %s %s %s after %v; its cases are skipped",
		api, cell.From, cell.To, cell.Key, last.Outcome, r.Timing.Convergence)
	return rec.Message, nil
}

// watchDenied resets the cluster, checks that the enforcement cell is
// open, applies stage deny and probes the cell until it is denied
// enforcementDenials times in a row, recording the stage in rec: one lost
// packet of an overloaded enforcer must not read as enforcement. last is
// nil when the denial held, else the last probe's result.
func (r *Runner) watchDenied(ctx context.Context, deny *cases.Stage, name string, rec *record.Case) (enforcedIn time.Duration, last *agent.Result, err error) {
	if err := r.Cluster.Reset(ctx); err != nil {
		return 0, nil, err
	}
	cell := EnforcementCell
	open, err := r.Cluster.ProbeOne(ctx, cell.From, cell.To, cell.Key, 1)
	if err != nil {
		return 0, nil, err
	}
	if open.Outcome != agent.Allowed {
		return 0, nil, fmt.Errorf("%s -> %s %s is %s with no policy of the suite's, so the %s cannot be watched on it (%s)", cell.From, cell.To, cell.Key, open.Outcome, name, open.Detail)
	}
	if err := r.Cluster.Apply(ctx, deny); err != nil {
		return 0, nil, err
	}
	start := time.Now()
	var res agent.Result
	denials := 0
	for time.Since(start) < r.Timing.Convergence {
		if res, err = r.Cluster.ProbeOne(ctx, cell.From, cell.To, cell.Key, 1); err != nil {
			return 0, nil, err
		}
		switch res.Outcome {
		case agent.DeniedRefused, agent.DeniedTimeout:
			if denials == 0 {
				enforcedIn = time.Since(start)
			}
			denials++
		default:
			denials = 0
		}
		if denials == enforcementDenials {
			rec.Stages = append(rec.Stages, record.Stage{Name: name, Converged: true,
				TimeToEnforce: &metav1.Duration{Duration: enforcedIn.Round(time.Millisecond)}})
			return enforcedIn, nil, nil
		}
		select {
		case <-ctx.Done():
			return 0, nil, fmt.Errorf("interrupted while waiting for the %s: %w", name, ctx.Err())
		case <-time.After(r.Timing.EnforcementPoll):
		}
	}
	return 0, &res, nil
}

// enforcementDenials is how many denials in a row show a check's policy
// enforced.
const enforcementDenials = 3

// Run runs case c and records it in rec: a departure from the spec sets
// rec.Outcome to record.Departed with its message and detail, and Run
// returns nil; a case that agreed wherever it probed but could not run
// all its probes here is record.Skipped, never a pass. An error means the
// case could not be judged: an API or
// probe failure, a topology that would not return to allow-all, an agent
// that restarted during the case.
func (r *Runner) Run(ctx context.Context, c *cases.Case, rec *record.Case) error {
	rec.Notes = append(rec.Notes, r.Notes...)
	place := func(key, node string) {
		if node == "" {
			return
		}
		if rec.Placement == nil {
			rec.Placement = map[string]string{}
		}
		rec.Placement[key] = node
	}
	// A node is where it is: its cells to pods on it are same-node. Its
	// prober pod is the node's row, not a pod of its own.
	probers := map[string]bool{}
	for _, e := range r.Topology.Externals {
		place(e.Name, e.NodeName)
		probers[e.Prober] = e.Prober != ""
	}
	for _, ns := range r.Topology.Namespaces {
		for _, p := range ns.Pods {
			if key := topology.PodKey(ns.Name, p.Name); !probers[key] {
				place(key, p.Node)
			}
		}
	}
	cr := &caseRun{Runner: r, rec: rec, viaService: c.ProbeVia == cases.ProbeViaService}
	if cr.viaService {
		if err := r.Cluster.EnsureServices(ctx, r.Keys); err != nil {
			return fmt.Errorf("creating a Service in front of each pod: %w", err)
		}
		rec.Notes = append(rec.Notes, "probe-via service: probes go to a ClusterIP Service in front of each pod; a pod reaching itself through its own Service may be SNATed to the node (hairpin): implementation-defined")
	}
	// The topology is known to be allow-all when the previous case ended
	// with its positive control, probed the same way (directly or through
	// Services); otherwise (the first case, one that errored, the first to
	// probe through Services) it is reset and verified first.
	empty := &cases.Stage{Topology: r.Topology}
	if r.verifiedClean == nil || *r.verifiedClean != cr.viaService {
		if err := r.Cluster.Reset(ctx); err != nil {
			return err
		}
		msg, err := cr.check(ctx, empty, "reset before the case")
		if err != nil {
			return err
		}
		if msg != "" {
			return fmt.Errorf("the topology did not return to allow-all after removing every policy, so this case cannot be judged:\n%s", msg)
		}
	} else {
		// What the cluster enforces now: a first stage that expects the
		// same must still settle, or it would match before the enforcer
		// acted.
		m, err := empty.Model()
		if err != nil {
			return err
		}
		if cr.previous, err = cr.tables(m); err != nil {
			return err
		}
	}
	r.verifiedClean = nil
	agentsBefore, err := r.Cluster.AgentRestarts(ctx)
	if err != nil {
		return err
	}
	stages, err := c.Stages(r.Topology)
	if err != nil {
		return err
	}
	var failures []string
	for i := range stages {
		s := &stages[i]
		if err := r.Cluster.Apply(ctx, s); err != nil {
			return fmt.Errorf("applying %s: %w", s.Name(), err)
		}
		msg, err := cr.check(ctx, s, s.Name())
		if err != nil {
			return err
		}
		if msg != "" {
			failures = append(failures, fmt.Sprintf("== %s\n%s", s.Name(), msg))
		}
		more, err := cr.checkProbes(ctx, s)
		if err != nil {
			return err
		}
		failures = append(failures, more...)
	}
	// The positive control: with every policy of the case removed, every
	// destination answers again on every port and protocol, so none of the
	// case's denials was a dead or unreachable agent. It also measures how
	// long the removal took to be enforced.
	if err := r.Cluster.Reset(ctx); err != nil {
		return err
	}
	msg, err := cr.check(ctx, &cases.Stage{Topology: r.Topology}, record.ResetStage)
	if err != nil {
		return err
	}
	if msg != "" {
		return fmt.Errorf("positive control failed: with every policy removed the topology did not return to allow-all, so the case's denials cannot be trusted (a destination may not be answering):\n%s", msg)
	}
	agentsAfter, err := r.Cluster.AgentRestarts(ctx)
	if err != nil {
		return err
	}
	for pod, was := range agentsBefore {
		if agentsAfter[pod] != was {
			return fmt.Errorf("positive control failed: the agent of %s restarted during the case (%s, now %s): while it was down it refused connections, which reads as denials the policy never made", pod, was, agentsAfter[pod])
		}
	}
	r.verifiedClean = &cr.viaService
	if c.KeepConnections {
		rec.Notes = append(rec.Notes, "established connections across steps are not probed by this version; new connections are")
	}
	if len(failures) == 0 && len(cr.unprobed) > 0 {
		// Not a pass: part of what the case expects was never observed,
		// and it is often the point of the case (the DNS a policy must
		// keep allowing).
		rec.Outcome = record.Skipped
		rec.Message = fmt.Sprintf("not observed in full, so not a pass: %d of its probes could not run here (%s); every cell that ran agreed with the model",
			len(cr.unprobed), cr.unprobed[0])
	}
	if len(failures) > 0 {
		// Recorded as the cluster's behaviour, which a CNI's profile may
		// explain, and not an error of the run.
		rec.Outcome = record.Departed
		rec.Message = DepartureSummary(rec.Departures, rec.Placement)
		rec.Reading = string(cr.explainingReading(stages))
		rec.Detail = strings.Join(failures, "\n")
	}
	return nil
}

// caseRun checks the stages of one case in turn.
type caseRun struct {
	*Runner
	// unprobed are the case's single probes that could not run here.
	unprobed   []string
	rec        *record.Case
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
	for _, reading := range r.Readings {
		if r.reproduces(stages, reading) {
			return reading
		}
	}
	return ""
}

func (r *caseRun) reproduces(stages []cases.Stage, reading model.Reading) bool {
	rows, matrix := r.Topology.Rows(r.viaService), r.Topology.MatrixKeys()
	for i := range stages {
		s := &stages[i]
		obs, ok := r.observed[s.Name()]
		if !ok {
			return false
		}
		m, err := model.NewReading(s.Topology, stages[0].Topology, s.Policies, clusterpolicy.Model(s.ClusterPolicies), []model.Reading{reading})
		if err != nil {
			return false
		}
		for j, k := range r.Keys {
			t, err := m.TableOf(k, rows, matrix, false)
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
func (r *caseRun) check(ctx context.Context, s *cases.Stage, name string) (string, error) {
	start := time.Now()
	m, err := s.Model()
	if err != nil {
		return "", err
	}
	expected, err := r.tables(m)
	if err != nil {
		return "", err
	}
	opts := probing.Options{Timeout: r.Timing.Convergence, Confirm: 1, Interval: r.Timing.Interval}
	if sameOutcomes(expected, r.previous) {
		// Nothing should change: the first pass matches before the
		// enforcer acted, so keep confirming for a while.
		opts.MinSettle = r.Timing.settle(r.enforcedIn)
	}
	r.previous = expected
	var refused, timedOut, flows, leaked int
	observe := func(obs *probing.Observation, err error) ([]*reachability.Table, error) {
		if err != nil {
			return nil, err
		}
		refused, timedOut = obs.Refused, obs.TimedOut
		flows, leaked = flows+obs.Flows, leaked+obs.Leaked
		for cell, detail := range obs.Errors {
			r.logf("probe error %s: %s", cell, detail)
		}
		return obs.Tables, nil
	}
	// A match is confirmed by a pass that sends ConfirmFlows new flows to
	// every denied cell: a denial that lets a tenth of new connections
	// through is caught with probability >= 99 % (probing.FlowsFor).
	opts.ConfirmPass = func(ctx context.Context) ([]*reachability.Table, error) {
		return observe(r.Cluster.ConfirmPass(ctx, r.Keys, r.viaService, expected, probing.ConfirmFlows))
	}
	res, err := probing.Converge(ctx, start, expected, func(ctx context.Context) ([]*reachability.Table, error) {
		return observe(r.Cluster.ProbePass(ctx, r.Keys, r.viaService))
	}, opts)
	if err != nil {
		return "", fmt.Errorf("probing %s: %w", name, err)
	}
	stage := record.Stage{Name: name, Passes: len(res.Passes), Converged: res.Converged, Refused: refused, TimedOut: timedOut,
		ConfirmFlows: probing.ConfirmFlows, Flows: flows, Leaked: leaked}
	if res.Converged && opts.MinSettle == 0 {
		stage.TimeToEnforce = &metav1.Duration{Duration: res.TimeToEnforce.Round(time.Millisecond)}
	}
	r.rec.Stages = append(r.rec.Stages, stage)
	if r.observed == nil {
		r.observed, r.probed = map[string][]*reachability.Table{}, map[string][]probeObservation{}
	}
	r.observed[name] = res.Last()
	if res.Converged {
		for i, cmp := range res.Comparisons {
			for _, u := range cmp.Undefined {
				r.rec.OwnReadings = append(r.rec.OwnReadings, fmt.Sprintf("%s: %s -> %s %s: model's reading %s, observed %s", name, u.From, u.To, expected[i].Key, u.Expected.Outcome, u.Observed))
			}
		}
		return "", nil
	}
	// The last pass's wrong cells: those that never matched, or those that
	// flipped back after matching (flapping).
	for i, cmp := range res.Comparisons {
		k := expected[i].Key
		for _, w := range append(append([]reachability.Mismatch{}, cmp.Wrong...), cmp.Missing...) {
			r.rec.Departures = append(r.rec.Departures, record.Cell{Stage: name, From: w.From, To: w.To,
				Port: k.Port, Protocol: k.Protocol, Expected: w.Expected.Outcome, Observed: w.Observed})
		}
	}
	return probing.FailureMessage(expected, res, func(from, to string, k reachability.Key) string {
		v, err := m.Evaluate(model.Traffic{From: from, To: to, Port: k.Port, Protocol: k.Protocol})
		if err != nil {
			return err.Error()
		}
		return v.Explain()
	}, r.rec.Placement), nil
}

// tables are the model's tables for every probed key: from every source
// (the matrix, then the nodes) to the matrix.
func (r *caseRun) tables(m *model.Model) ([]*reachability.Table, error) {
	rows, matrix := r.Topology.Rows(r.viaService), r.Topology.MatrixKeys()
	var expected []*reachability.Table
	for _, k := range r.Keys {
		t, err := m.TableOf(k, rows, matrix, false)
		if err != nil {
			return nil, err
		}
		expected = append(expected, t)
	}
	return expected, nil
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

// checkProbes runs a stage's single-cell probes once (after the matrix
// converged) and compares them with the model.
func (r *caseRun) checkProbes(ctx context.Context, s *cases.Stage) ([]string, error) {
	if len(s.Probes) == 0 {
		return nil, nil
	}
	m, err := s.Model()
	if err != nil {
		return nil, err
	}
	var failures []string
	for _, p := range s.Probes {
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		key := reachability.Key{Port: p.Port, Protocol: proto}
		if err := r.Cluster.Probeable(p.From, p.To); err != nil {
			// A cell from a pod the suite does not run, or to one this
			// cluster lacks (its DNS): unobserved, so the case cannot pass.
			note := fmt.Sprintf("%s: probe %s -> %s %s not run: %v", s.Name(), p.From, p.To, key, err)
			r.rec.Notes = append(r.rec.Notes, note)
			r.unprobed = append(r.unprobed, note)
			continue
		}
		traffic := model.Traffic{From: p.From, To: p.To, Port: p.Port, Protocol: proto}
		v, err := m.Evaluate(traffic)
		if err != nil {
			return nil, err
		}
		want := reachability.OutcomeFor(v.Allowed)
		// A cell that must be denied gets the confirming flows, as in the
		// matrix: one leaked flow shows it is not denied.
		flows := 1
		if want == reachability.Blocked {
			flows = probing.ConfirmFlows
		}
		res, err := r.Cluster.ProbeOne(ctx, p.From, p.To, key, flows)
		if err != nil {
			return nil, err
		}
		got := probing.OutcomeOf(res.Outcome)
		if r.probed == nil {
			r.observed, r.probed = map[string][]*reachability.Table{}, map[string][]probeObservation{}
		}
		r.probed[s.Name()] = append(r.probed[s.Name()], probeObservation{traffic: traffic, observed: got})
		line := fmt.Sprintf("%s: probe %s -> %s %s: expected %s, observed %s (%s)", s.Name(), p.From, p.To, key, want, got, res.Outcome)
		switch {
		case got == want:
		case !v.Defined():
			r.rec.OwnReadings = append(r.rec.OwnReadings, line)
		default:
			failures = append(failures, "WRONG "+line+"\n"+v.Explain())
			r.rec.Departures = append(r.rec.Departures, record.Cell{Stage: s.Name(), From: p.From, To: p.To,
				Port: key.Port, Protocol: key.Protocol, Expected: want, Observed: got})
		}
	}
	return failures, nil
}

// DepartureSummary says in one line how a case departed: the first line
// of a failure, which `sonobuoy results` and the reports show on its own.
// With pods on more than one node (placement: "ns/pod" or a node to its node), it says
// how many wrong cells stayed within one node and how many crossed nodes:
// a departure on one side only points at encapsulation, source NAT or a
// per-node agent.
func DepartureSummary(cells []record.Cell, placement map[string]string) string {
	if len(cells) == 0 {
		return "the cluster departs from the NetworkPolicy spec"
	}
	over, under, unprobed := 0, 0, 0
	for _, c := range cells {
		switch c.Observed {
		case reachability.Allowed:
			over++
		case reachability.Blocked:
			under++
		default:
			unprobed++
		}
	}
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{over, "allowed that must be denied"}, {under, "denied that must be allowed"}, {unprobed, "whose probe failed"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	counts := strings.Join(parts, ", ")
	// "Only" only when every cell's placement is known.
	switch same, cross := placedCells(cells, placement); {
	case same+cross == 0:
	case cross == 0 && same == len(cells):
		counts += "; only within one node (" + cellCount(same) + ")"
	case same == 0 && cross == len(cells):
		counts += "; only across nodes (" + cellCount(cross) + ")"
	default:
		counts += fmt.Sprintf("; %d within one node, %d across nodes", same, cross)
		if unplaced := len(cells) - same - cross; unplaced > 0 {
			counts += fmt.Sprintf(", %d to or from an endpoint of no known node", unplaced)
		}
	}
	first := cells[0]
	return fmt.Sprintf("the cluster departs from the NetworkPolicy spec in %d cells (%s); first: %s: %s -> %s %s expected %s, observed %s",
		len(cells), counts, first.Stage, first.From, first.To, first.Key(), first.Expected, first.Observed)
}

// cellCount is "1 cell" or "N cells".
func cellCount(n int) string {
	if n == 1 {
		return "1 cell"
	}
	return fmt.Sprintf("%d cells", n)
}

// placedCells counts the cells between two placed pods by whether they
// share a node, when the pods ran on more than one node (zero otherwise).
func placedCells(cells []record.Cell, placement map[string]string) (same, cross int) {
	if record.NodeCount(placement) < 2 {
		return 0, 0
	}
	for _, c := range cells {
		switch p, ok := record.PlacementOf(placement, c.From, c.To); {
		case !ok:
		case p == record.SameNode:
			same++
		default:
			cross++
		}
	}
	return same, cross
}
