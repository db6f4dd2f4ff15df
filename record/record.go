// Package record is the typed record of a suite run: the one source of truth
// that every report (JUnit, report.json, Sonobuoy's progress, compare, diff,
// Markdown, HTML) is rendered from.
//
// The suite appends the record to a journal in its results directory as the
// run happens, one JSON document per line, each flushed to disk before the
// next case starts. A run that is killed therefore keeps every case it
// finished, and a case the run planned but has no record of is known not to
// have run: nothing is ever written for a case ahead of its result.
//
// The package is pure: no cluster I/O, only the file it is given.
package record

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netpol-conformance/netpol-conformance/clusterpolicy"
	"github.com/netpol-conformance/netpol-conformance/cni"
	"github.com/netpol-conformance/netpol-conformance/reachability"
)

// Schema versions the journal's documents.
const Schema = "netpol-conformance.record/v1"

// JournalFile is the journal's name in the results directory.
const JournalFile = "journal.jsonl"

// Placement is where the two pods of a cell ran, relative to each other.
type Placement string

const (
	// SameNode: both pods on one node.
	SameNode Placement = "same-node"
	// CrossNode: the pods on different nodes.
	CrossNode Placement = "cross-node"
)

// Placements lists every placement once.
var Placements = []Placement{SameNode, CrossNode}

// PlacementOf is the placement of the cell from -> to given each pod's
// node ("ns/pod" to node), false when either end's node is unknown.
func PlacementOf(placement map[string]string, from, to string) (Placement, bool) {
	nf, okFrom := placement[from]
	nt, okTo := placement[to]
	switch {
	case !okFrom || !okTo:
		return "", false
	case nf == nt:
		return SameNode, true
	}
	return CrossNode, true
}

// NodeCount is how many nodes the placed pods ran on.
func NodeCount(placement map[string]string) int {
	nodes := map[string]bool{}
	for _, n := range placement {
		nodes[n] = true
	}
	return len(nodes)
}

// CrossNodeUncovered says what a run whose pods all ran on one node did not
// test; the suite's note and the reports say it in these words.
const CrossNodeUncovered = "every pod ran on one node, so encapsulation, source NAT and per-node agents between nodes were not tested"

// EnforcementCheck names the run's first spec, which checks that
// NetworkPolicy is enforced at all; every case depends on it.
const EnforcementCheck = "is enforced at all"

// ClusterWideCheck names the spec that checks that a cluster-wide policy
// API is enforced at all; the cases of its family depend on it. It is
// skipped where the cluster does not serve the API.
func ClusterWideCheck(api clusterpolicy.API) string { return string(api) + " is enforced" }

// IsCheck reports whether name is one of the run's checks, the specs that
// cases depend on, rather than a case.
func IsCheck(name string) bool {
	if name == EnforcementCheck {
		return true
	}
	for _, api := range clusterpolicy.APIs {
		if name == ClusterWideCheck(api) {
			return true
		}
	}
	return false
}

// ResetStage names the stage after each case's own: every policy of the
// case removed, back to the no-policy table. It is the case's positive
// control (every destination it denied answers again) and measures how
// long the removal took to be enforced.
const ResetStage = "reset"

// Outcome is what happened to a case on the cluster, before any profile is
// read: the verdict classes (package results) are derived from it.
type Outcome string

const (
	// Passed: the cluster matched the model in every stage.
	Passed Outcome = "passed"
	// Departed: the cluster did something other than what the spec says,
	// observed and compared cell by cell. The only outcome a CNI's profile
	// may explain.
	Departed Outcome = "departed"
	// Errored: the case could not be judged (an API error, a timeout, an
	// interrupt, a panic, a probe that could not run). Never explained by a
	// profile.
	Errored Outcome = "errored"
	// Skipped: the case did not run by design, or could not be observed in
	// full on this cluster (never a pass), with the reason.
	Skipped Outcome = "skipped"
	// NotRun: the run planned the case but ended before its result was
	// recorded. Only readers write it (see Run.Complete).
	NotRun Outcome = "not-run"
)

// Outcomes lists every outcome once.
var Outcomes = []Outcome{Passed, Departed, Errored, Skipped, NotRun}

// Start opens a journal: the run and every case it is going to run.
type Start struct {
	Schema       string      `json:"schema"`
	RunID        string      `json:"runID"`
	SuiteVersion string      `json:"suiteVersion"`
	Started      metav1.Time `json:"started"`
	// Strict is set when known deviations fail the run.
	Strict        bool   `json:"strict"`
	CaseSetDigest string `json:"caseSetDigest,omitempty"`
	// Planned lists the specs this run selected, in run order, the
	// enforcement check first.
	Planned []Planned `json:"planned"`
}

// Planned is a case the run selected.
type Planned struct {
	Name   string   `json:"name"`
	Family string   `json:"family,omitempty"`
	Tags   []string `json:"tags,omitempty"`
}

// Cluster is what the run found once it reached the cluster.
type Cluster struct {
	KubernetesVersion string        `json:"kubernetesVersion"`
	Nodes             int           `json:"nodes"`
	CNI               cni.Detection `json:"cni"`
	// ClusterPolicyAPIs are the cluster-wide policy kinds the cluster
	// serves; none where it serves none.
	ClusterPolicyAPIs []ServedAPI `json:"clusterPolicyAPIs,omitempty"`
}

// ServedAPI is one cluster-wide policy kind as the cluster serves it.
type ServedAPI struct {
	Kind string `json:"kind"`
	// APIVersion is the version the suite sends it as, the newest served.
	APIVersion string `json:"apiVersion"`
	// BundleVersion is the network-policy-api release of its CRD (the
	// CRD's policy.networking.k8s.io/bundle-version annotation); empty
	// when the CRD could not be read.
	BundleVersion string `json:"bundleVersion,omitempty"`
}

// Repetition names the k-th run of a case within one run (the suite's
// --netpol.repeat): "NAME#K". Case names are DNS labels, so "#" is free.
func Repetition(name string, k int) string { return fmt.Sprintf("%s#%d", name, k) }

// TableCase is the case of the table a recorded name stands for: NAME for
// a repetition NAME#K, the name itself otherwise.
func TableCase(name string) string {
	base, _, _ := strings.Cut(name, "#")
	return base
}

// Case is the result of one case.
type Case struct {
	Name    string  `json:"name"`
	Outcome Outcome `json:"outcome"`
	// Message says in one line why the case departed, errored, was skipped
	// or did not run.
	Message string `json:"message,omitempty"`
	// Detail holds what a departure observed: expected, observed and diff
	// tables and, per wrong cell, the model's explanation.
	Detail   string      `json:"detail,omitempty"`
	Started  metav1.Time `json:"started"`
	Finished metav1.Time `json:"finished"`
	Stages   []Stage     `json:"stages,omitempty"`
	// Departures are the wrong cells of every stage, what a CNI's profile
	// is matched against.
	Departures []Cell `json:"departures,omitempty"`
	// Reading names the CNI reading (model.Reading, from the CNI's
	// profile) that predicts every observation of the case, cell for cell,
	// when one does; a departure no reading predicts has none.
	Reading string `json:"reading,omitempty"`
	// OwnReadings are the cells where the cluster read what the spec
	// leaves open its own way, one line each.
	OwnReadings []string `json:"ownReadings,omitempty"`
	// Notes are what the case did not probe and why (a protocol the nodes
	// cannot carry), and how it probed.
	Notes []string `json:"notes,omitempty"`
	// Placement is the node of each pod the case probed, "ns/pod" to node
	// name, where the cluster reported it, and of each node it probed from
	// ("node-1" to its name): same-node and cross-node cells can differ.
	Placement map[string]string `json:"placement,omitempty"`
}

// Stage is one stage of a case: a set of policies and labels, probed in
// passes until the cluster matched the model or the time ran out.
type Stage struct {
	Name      string `json:"name"`
	Passes    int    `json:"passes"`
	Converged bool   `json:"converged"`
	// TimeToEnforce is how long the stage took to be enforced; nil for a
	// stage that changes no cell, which has nothing to measure.
	TimeToEnforce *metav1.Duration `json:"timeToEnforce,omitempty"`
	// Refused and TimedOut count the denied probes of the last pass by how
	// they were denied.
	Refused  int `json:"refused,omitempty"`
	TimedOut int `json:"timedOut,omitempty"`
	// ConfirmFlows is how many new flows the confirming pass sent to each
	// denied cell; Flows counts every flow of the stage, Leaked the flows
	// of denied cells that were answered (any is a failure).
	ConfirmFlows int `json:"confirmFlows,omitempty"`
	Flows        int `json:"flows,omitempty"`
	Leaked       int `json:"leaked,omitempty"`
}

// Cell is one probe whose observation departed from the model.
type Cell struct {
	Stage    string               `json:"stage"`
	From     string               `json:"from"`
	To       string               `json:"to"`
	Port     int32                `json:"port"`
	Protocol corev1.Protocol      `json:"protocol"`
	Expected reachability.Outcome `json:"expected"`
	Observed reachability.Outcome `json:"observed"`
}

// Key is the cell's port and protocol.
func (c Cell) Key() reachability.Key { return reachability.Key{Port: c.Port, Protocol: c.Protocol} }

// End closes a journal whose run finished its specs.
type End struct {
	Finished metav1.Time `json:"finished"`
	// Interrupted says why the run stopped early, if it did.
	Interrupted string `json:"interrupted,omitempty"`
}

// Entry is one line of the journal: exactly one of its fields is set.
type Entry struct {
	Start   *Start   `json:"start,omitempty"`
	Cluster *Cluster `json:"cluster,omitempty"`
	Case    *Case    `json:"case,omitempty"`
	End     *End     `json:"end,omitempty"`
}

// Run is a journal read back.
type Run struct {
	Start   Start
	Cluster *Cluster
	Cases   []Case
	End     *End
	// Truncated is set when the journal ends in a partial line: the writer
	// was killed while writing it.
	Truncated bool
}

// Case returns the recorded case with that name, or nil.
func (r *Run) Case(name string) *Case {
	for i := range r.Cases {
		if r.Cases[i].Name == name {
			return &r.Cases[i]
		}
	}
	return nil
}

// Complete adds a NotRun case, with cause as its message, for every planned
// case the journal has no record of, and returns how many it added. The
// cases end up in planned order.
func (r *Run) Complete(cause string, now time.Time) int {
	added := 0
	var cases []Case
	for _, p := range r.Start.Planned {
		if c := r.Case(p.Name); c != nil {
			cases = append(cases, *c)
			continue
		}
		added++
		cases = append(cases, Case{
			Name: p.Name, Outcome: NotRun, Message: "did not run: " + cause,
			Started: metav1.NewTime(now), Finished: metav1.NewTime(now),
		})
	}
	for _, c := range r.Cases {
		if !r.planned(c.Name) {
			cases = append(cases, c)
		}
	}
	r.Cases = cases
	return added
}

func (r *Run) planned(name string) bool {
	for _, p := range r.Start.Planned {
		if p.Name == name {
			return true
		}
	}
	return false
}

// Finished reports whether the run recorded the end of its specs.
func (r *Run) Finished() bool { return r.End != nil }

// Summary is the one line a Message is read by: its first line. Ginkgo's
// failure messages can run to several lines; the record, JUnit and
// Sonobuoy show only this one and keep the rest in Detail.
func Summary(message string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(message), "\n")
	return line
}
