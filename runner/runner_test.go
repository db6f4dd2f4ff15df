package runner_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/netpol-conformance/netpol-conformance/cases"
	"github.com/netpol-conformance/netpol-conformance/model"
	"github.com/netpol-conformance/netpol-conformance/reachability"
	"github.com/netpol-conformance/netpol-conformance/record"
	"github.com/netpol-conformance/netpol-conformance/runner"
	"github.com/netpol-conformance/netpol-conformance/runner/fakecluster"
)

var (
	tcp80 = reachability.Key{Port: 80, Protocol: corev1.ProtocolTCP}
	udp81 = reachability.Key{Port: 81, Protocol: corev1.ProtocolUDP}
)

// fastTiming keeps the fake's runs short: passes are instant, so only the
// waits that bound them count.
func fastTiming() runner.Timing {
	t := runner.DefaultTiming()
	// Generous against a slow machine (the race detector): a pass of the
	// fake takes milliseconds, and only a case that never matches waits it.
	t.Convergence, t.Interval, t.EnforcementPoll, t.Settle = 2*time.Second, time.Millisecond, time.Millisecond, 0
	return t
}

func newRunner(fc *fakecluster.Cluster, readings ...model.Reading) *runner.Runner {
	return &runner.Runner{Cluster: fc, Topology: fc.Topology, Keys: []reachability.Key{tcp80, udp81},
		Timing: fastTiming(), Readings: readings}
}

func builtin(t *testing.T, name string) *cases.Case {
	t.Helper()
	set, err := cases.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	c := set.Case(name)
	if c == nil {
		t.Fatalf("no case %s", name)
	}
	return c
}

// run runs the named case on r's cluster and returns its record and Run's
// error; it runs no enforcement check first (tests that need its measured
// delay run CheckEnforced themselves).
func run(t *testing.T, r *runner.Runner, name string) (*record.Case, error) {
	t.Helper()
	rec := &record.Case{Name: name}
	err := r.Run(context.Background(), builtin(t, name), rec)
	return rec, err
}

func TestConformantClusterPasses(t *testing.T) {
	fc := fakecluster.New(1)
	r := newRunner(fc)
	check := &record.Case{}
	if msg, err := r.CheckEnforced(context.Background(), check); err != nil || msg != "" {
		t.Fatalf("CheckEnforced = %q, %v on an enforcing cluster", msg, err)
	}
	for _, name := range []string{"deny-all-ingress-in-x", "create-then-delete-deny", "and-vs-or-one-peer", "pod-relabel-selected-by-policy"} {
		rec, err := run(t, r, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if rec.Outcome == record.Departed {
			t.Fatalf("%s departed on a conformant cluster: %s\n%s", name, rec.Message, rec.Detail)
		}
		if rec.Placement["x/a"] != "fake-node" {
			t.Errorf("%s: placement %v lacks x/a's node", name, rec.Placement)
		}
		last := rec.Stages[len(rec.Stages)-1]
		if last.Name != record.ResetStage || !last.Converged {
			t.Errorf("%s: the positive control did not run and converge: %+v", name, last)
		}
	}
}

func TestNotEnforced(t *testing.T) {
	fc := fakecluster.New(1)
	fc.NotEnforced = true
	rec := &record.Case{}
	msg, err := newRunner(fc).CheckEnforced(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "NOT enforced") || rec.Outcome != record.Departed {
		t.Errorf("CheckEnforced on a cluster that enforces nothing: %q, outcome %q", msg, rec.Outcome)
	}
}

func TestLagConvergesWithTimeToEnforce(t *testing.T) {
	fc := fakecluster.New(1)
	fc.Lag = 3
	rec, err := run(t, newRunner(fc), "deny-all-ingress-in-x")
	if err != nil || rec.Outcome == record.Departed {
		t.Fatalf("a cluster that enforces three passes late: %v %s", err, rec.Message)
	}
	s := rec.Stages[1] // after "reset before the case"
	if s.Name != "initial" || s.Passes < 4 || s.TimeToEnforce == nil {
		t.Errorf("initial stage %+v: want ≥ 4 passes (3 before enforcement) and a time to enforce", s)
	}
}

func TestLagBeyondConvergenceDeparts(t *testing.T) {
	fc := fakecluster.New(1)
	fc.Lag = 1 << 30 // never enforces the case
	rec, err := run(t, newRunner(fc), "deny-all-ingress-in-x")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != record.Departed || len(rec.Departures) == 0 {
		t.Fatalf("a case never enforced must depart, got %q", rec.Outcome)
	}
	for _, d := range rec.Departures {
		if d.Observed != reachability.Allowed || d.Expected != reachability.Blocked {
			t.Errorf("departure %+v: want allowed where the model denies", d)
		}
	}
	if !strings.Contains(rec.Message, "allowed that must be denied") {
		t.Errorf("message %q does not say which way", rec.Message)
	}
}

// TestLeakDetection is the unit form of docs/reliability.md's measurement:
// one cell of deny-all-ingress-in-x leaks a share of its new flows; the
// confirming flows must catch it in ≥ 99 % of runs at 10 % and always at
// 50 %.
func TestLeakDetection(t *testing.T) {
	leaky := fakecluster.Cell{From: "y/a", To: "x/a", Key: tcp80}
	for _, tt := range []struct {
		leak    float64
		runs    int
		minRate float64
	}{
		{0.10, 300, 0.99},
		{0.50, 100, 1},
	} {
		caught := 0
		for seed := range tt.runs {
			fc := fakecluster.New(int64(seed))
			fc.Leak, fc.Leaky = tt.leak, func(c fakecluster.Cell) bool { return c == leaky }
			rec, err := run(t, newRunner(fc), "deny-all-ingress-in-x")
			if err != nil {
				t.Fatal(err)
			}
			if rec.Outcome == record.Departed {
				caught++
			}
		}
		rate := float64(caught) / float64(tt.runs)
		t.Logf("%.0f %% leak on one cell: caught in %d of %d runs", 100*tt.leak, caught, tt.runs)
		if rate < tt.minRate {
			t.Errorf("%.0f %% leak caught in %.3f of runs, want ≥ %.2f", 100*tt.leak, rate, tt.minRate)
		}
	}
}

func TestFlappingDeparts(t *testing.T) {
	fc := fakecluster.New(1)
	r := newRunner(fc)
	// Reset check (call 1, then its confirm 2), then the case's stage:
	// call 3 matches, call 4 (the confirming pass) flips one denied cell.
	fc.Flap = func(call int, c fakecluster.Cell) bool {
		return call == 4 && c.From == "y/b" && c.To == "x/b" && c.Key == tcp80
	}
	rec, err := run(t, r, "deny-all-ingress-in-x")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != record.Departed || !strings.Contains(rec.Detail, "FLAPPING") {
		t.Fatalf("a cell that flips after matching must fail as flapping: %q\n%s", rec.Outcome, rec.Detail)
	}
}

// lateWrongDenial is an enforcer that wrongly denies everything into x/a,
// but only from the third probe call of the next case's one stage on: the
// first pass and its confirmation match, so only the settle time sees it.
func lateWrongDenial(fc *fakecluster.Cluster) func(int, fakecluster.Cell) bool {
	// The case's one stage is the next Apply; its reset the one after.
	stage, start := fc.Applied+1, -1
	return func(call int, c fakecluster.Cell) bool {
		if fc.Applied != stage {
			return false
		}
		if start < 0 {
			start = call
		}
		return call >= start+2 && c.To == "x/a" && c.From != "x/a"
	}
}

func TestSettleCatchesALateChangeThatMatchedAtFirst(t *testing.T) {
	// allow-all-ingress-overrides-deny expects allow-all everywhere: its
	// first pass matches before the enforcer acts. An enforcer that then
	// wrongly denies (from call 6 on) is caught only because the stage
	// settles.
	for _, tt := range []struct {
		settle  time.Duration
		departs bool
	}{
		{0, false},
		{400 * time.Millisecond, true},
	} {
		fc := fakecluster.New(1)
		r := newRunner(fc)
		r.Timing.Settle = tt.settle
		if _, err := run(t, r, "deny-all-ingress-in-x"); err != nil { // leaves the topology verified clean
			t.Fatal(err)
		}
		fc.Flap = lateWrongDenial(fc)
		rec, err := run(t, r, "allow-all-ingress-overrides-deny")
		if err != nil {
			t.Fatal(err)
		}
		if got := rec.Outcome == record.Departed; got != tt.departs {
			t.Errorf("settle %v: departed = %v, want %v", tt.settle, got, tt.departs)
		}
	}
}

func TestReadingExplainsADeparture(t *testing.T) {
	const name = "ipblock-except-one-pod"
	for _, tt := range []struct {
		readings []model.Reading
		want     string
	}{
		{nil, ""},
		{[]model.Reading{model.EndPortIgnored, model.IPBlockExcludesPodIPs}, string(model.IPBlockExcludesPodIPs)},
	} {
		fc := fakecluster.New(1)
		fc.Reading = model.IPBlockExcludesPodIPs
		rec, err := run(t, newRunner(fc, tt.readings...), name)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Outcome != record.Departed {
			t.Fatalf("%s on a cluster where ipBlock excludes pod IPs must depart", name)
		}
		if rec.Reading != tt.want {
			t.Errorf("readings %v: reading %q, want %q", tt.readings, rec.Reading, tt.want)
		}
	}
}

func TestPositiveControlFailsOnARestartedAgent(t *testing.T) {
	fc := fakecluster.New(1)
	fc.RestartAgentAfter = 1
	_, err := run(t, newRunner(fc), "deny-all-ingress-in-x")
	if err == nil || !strings.Contains(err.Error(), "restarted during the case") {
		t.Fatalf("an agent restart during the case must make it unjudgeable, got %v", err)
	}
}

func TestPositiveControlFailsWhenADestinationStopsAnswering(t *testing.T) {
	fc := fakecluster.New(1)
	r := newRunner(fc)
	var stageDone bool
	fc.Flap = func(call int, c fakecluster.Cell) bool {
		// After the case's stage (reset check 2 calls, stage 2 calls),
		// x/c answers nothing, as a dead agent would.
		stageDone = stageDone || call > 4
		return stageDone && c.To == "x/c" && c.From == "z/c"
	}
	_, err := run(t, r, "deny-all-egress-in-x")
	if err == nil || !strings.Contains(err.Error(), "positive control failed") {
		t.Fatalf("a destination that stops answering must fail the positive control, got %v", err)
	}
	// The next case cannot trust the topology: it resets and checks first.
	fc.Flap = nil
	rec, err := run(t, r, "deny-all-ingress-in-x")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Stages[0].Name != "reset before the case" {
		t.Errorf("after a failed positive control the next case must verify the reset first, stages %v", rec.Stages)
	}
}

func TestProbeErrorMakesTheCaseUnjudgeable(t *testing.T) {
	fc := fakecluster.New(1)
	boom := errors.New("exec: connection reset")
	fc.Err = func(call int) error {
		if call == 3 {
			return boom
		}
		return nil
	}
	_, err := run(t, newRunner(fc), "deny-all-ingress-in-x")
	if !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want the probe error", err)
	}
}

func TestSingleProbesGetConfirmingFlows(t *testing.T) {
	// deny-all-everywhere denies egress to the DNS pod: its single probe
	// must be sent the confirming flows, so a leak there shows.
	fc := fakecluster.New(1)
	fc.Leak = 0.5
	fc.Leaky = func(c fakecluster.Cell) bool { return c.To == "kube-system/kube-dns" }
	rec, err := run(t, newRunner(fc), "deny-all-everywhere")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != record.Departed || !strings.Contains(rec.Detail, "kube-system/kube-dns") {
		t.Fatalf("a leaking single probe must depart: %q\n%s", rec.Outcome, rec.Detail)
	}
}

// The settle time is twice what the enforcement check measured: a stage
// that changes nothing is probed that long even with no Settle floor.
func TestSettleFollowsTheMeasuredEnforcementDelay(t *testing.T) {
	fc := fakecluster.New(1)
	r := newRunner(fc)
	r.Timing.EnforcementPoll = 100 * time.Millisecond
	fc.Lag = 2 // the default deny shows on the third probe, ≈ 200 ms in
	if msg, err := r.CheckEnforced(context.Background(), &record.Case{}); err != nil || msg != "" {
		t.Fatalf("CheckEnforced = %q, %v", msg, err)
	}
	fc.Lag = 0
	if _, err := run(t, r, "deny-all-ingress-in-x"); err != nil {
		t.Fatal(err)
	}
	fc.Flap = lateWrongDenial(fc)
	rec, err := run(t, r, "allow-all-ingress-overrides-deny")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != record.Departed {
		t.Error("a late wrong denial within twice the measured enforcement delay went unseen")
	}
}

// A case probed through Services after one probed directly cannot trust
// the direct positive control: it resets and verifies first.
func TestServiceCaseVerifiesTheResetAgain(t *testing.T) {
	fc := fakecluster.New(1)
	r := newRunner(fc)
	if _, err := run(t, r, "deny-all-ingress-in-x"); err != nil {
		t.Fatal(err)
	}
	again, err := run(t, r, "deny-all-egress-in-x")
	if err != nil {
		t.Fatal(err)
	}
	if again.Stages[0].Name == "reset before the case" {
		t.Error("a direct case after a verified direct case reset again")
	}
	svc, err := run(t, r, "service-deny-all-ingress-in-x")
	if err != nil {
		t.Fatal(err)
	}
	if svc.Stages[0].Name != "reset before the case" {
		t.Errorf("the first Service case did not verify the reset, stages %v", svc.Stages)
	}
}

// A case that cannot run one of its probes here (no DNS pod to probe) is
// never a pass, even when every cell that ran agreed: the unprobed cell is
// the point of a DNS case. A departure elsewhere stays a departure.
func TestUnprobedCellIsNotAPass(t *testing.T) {
	const why = "no ready pod labelled k8s-app=kube-dns in kube-system"
	fc := fakecluster.New(1)
	fc.Absent = map[string]string{"kube-system/kube-dns": why}
	r := newRunner(fc)
	rec, err := run(t, r, "egress-deny-with-dns-allowed")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != record.Skipped || !strings.Contains(rec.Message, "not observed in full") || !strings.Contains(rec.Message, why) {
		t.Errorf("outcome %q, message %q: want skipped, saying the DNS probe could not run", rec.Outcome, rec.Message)
	}
	fc.NotEnforced = true
	rec, err = run(t, r, "egress-deny-with-dns-allowed")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != record.Departed {
		t.Errorf("outcome %q on a cluster that enforces nothing: a departure must stay one", rec.Outcome)
	}
}

// A probe from a pod the suite does not run cannot be observed either:
// the cell may be what the case is about (kube-system reaching x/a where no
// pod of the matrix does).
func TestProbeFromOutsideTheSuiteIsNotObserved(t *testing.T) {
	rec, err := run(t, newRunner(fakecluster.New(1)), "ns-selector-doesnotexist")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != record.Skipped || !strings.Contains(rec.Message, "kube-system/kube-dns -> x/a 80/TCP not run") {
		t.Errorf("outcome %q (%s), want skipped, naming the probe from kube-dns", rec.Outcome, rec.Message)
	}
}

func TestDepartureSummaryCountsEachWay(t *testing.T) {
	cells := []record.Cell{
		{Stage: "initial", From: "y/b", To: "x/b", Port: 80, Protocol: "TCP", Expected: reachability.Blocked, Observed: reachability.ProbeError},
		{Stage: "initial", From: "y/a", To: "x/b", Port: 80, Protocol: "TCP", Expected: reachability.Blocked, Observed: reachability.Allowed},
		{Stage: "initial", From: "y/c", To: "x/b", Port: 80, Protocol: "TCP", Expected: reachability.Allowed, Observed: reachability.Blocked},
	}
	for _, tc := range []struct {
		name      string
		placement map[string]string
		want      string
	}{
		{"no placement", nil, "in 3 cells (1 allowed that must be denied, 1 denied that must be allowed, 1 whose probe failed);"},
		{"one node: nothing to tell", map[string]string{"x/b": "n1", "y/a": "n1", "y/b": "n1", "y/c": "n1"}, "whose probe failed);"},
		{"two nodes", map[string]string{"x/b": "n1", "y/a": "n2", "y/b": "n1", "y/c": "n2"}, "1 whose probe failed; 1 within one node, 2 across nodes);"},
		{"cells to unplaced ends are counted apart", map[string]string{"x/b": "n1", "y/a": "n2"}, "; 0 within one node, 1 across nodes, 2 to or from an endpoint of no known node);"},
		{"only on one node, on two nodes", map[string]string{"x/b": "n1", "y/a": "n1", "y/b": "n1", "y/c": "n1", "z/a": "n2"}, "; only within one node (3 cells));"},
		{"only across nodes", map[string]string{"x/b": "n1", "y/a": "n2", "y/b": "n2", "y/c": "n2"}, "; only across nodes (3 cells));"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := runner.DepartureSummary(cells, tc.placement); !strings.Contains(got, tc.want) {
				t.Errorf("summary %q, want %q in it", got, tc.want)
			}
		})
	}
}

// TestNodeRowsAreProbed checks that the nodes are sources: traffic from a
// node to the pods on it stays allowed under a default deny, and another
// node let through is a departure across nodes.
func TestNodeRowsAreProbed(t *testing.T) {
	fc := fakecluster.New(1)
	fc.SpreadOverNodes(2)
	rec, err := run(t, newRunner(fc), "deny-all-ingress-in-x")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome == record.Departed {
		t.Fatalf("a conformant cluster with node rows: %s %s\n%s", rec.Outcome, rec.Message, rec.Detail)
	}
	if rec.Placement["node-2"] != "fake-node-2" || rec.Placement["nodes/node-2"] != "" {
		t.Errorf("placement %v: want node-2 on fake-node-2, and its prober pod left out", rec.Placement)
	}

	fc = fakecluster.New(1)
	fc.SpreadOverNodes(2)
	fc.Leak, fc.Leaky = 1, func(c fakecluster.Cell) bool { return c.From == "node-2" }
	rec, err = run(t, newRunner(fc), "deny-all-ingress-in-x")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != record.Departed || !strings.Contains(rec.Message, "only across nodes") {
		t.Fatalf("another node let through a default deny: %s %s", rec.Outcome, rec.Message)
	}
	for _, c := range rec.Departures {
		if c.From != "node-2" || fc.Topology.Pod(c.To).Node == "fake-node-2" {
			t.Errorf("departure %s -> %s: only node-2 to pods on other nodes leaks", c.From, c.To)
		}
	}
}

// A cluster that enforces nothing but drops an odd probe (an overloaded
// enforcer) must not pass the enforcement check on one lost packet.
func TestEnforcementCheckNeedsDenialsInARow(t *testing.T) {
	fc := fakecluster.New(1)
	fc.NotEnforced = true
	// Every third probe call after the first is lost.
	fc.Flap = func(call int, c fakecluster.Cell) bool { return call > 1 && call%3 == 0 }
	rec := &record.Case{}
	msg, err := newRunner(fc).CheckEnforced(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "NOT enforced") {
		t.Errorf("CheckEnforced passed on lost packets alone: %q, stages %+v", msg, rec.Stages)
	}
}

// The check needs the cell open before its policy: a cell that is already
// denied shows nothing.
func TestEnforcementCheckNeedsTheCellOpenFirst(t *testing.T) {
	fc := fakecluster.New(1)
	fc.Flap = func(call int, c fakecluster.Cell) bool { return call == 1 }
	if _, err := newRunner(fc).CheckEnforced(context.Background(), &record.Case{}); err == nil || !strings.Contains(err.Error(), "with no policy") {
		t.Errorf("CheckEnforced with the cell denied before the policy: %v", err)
	}
}
