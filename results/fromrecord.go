package results

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/reporters"

	"github.com/netpol-conformance/netpol-conformance/cni"
	"github.com/netpol-conformance/netpol-conformance/model"
	"github.com/netpol-conformance/netpol-conformance/profiles"
	"github.com/netpol-conformance/netpol-conformance/record"
)

// testcasePrefix opens every testcase name: "NetworkPolicy <case>", so the
// reports of different runs and releases join on the name.
const testcasePrefix = "NetworkPolicy "

// FromRecord reads a run's record against the CNI profiles in set: every
// case gets its verdict class. A case the run planned but did not record is
// expected to have been added by record.Run.Complete; one that was not is
// not in the result.
func FromRecord(name string, rec *record.Run, set profiles.Set) *Run {
	detected := cni.Detection{Name: cni.Unknown, Evidence: "the suite did not reach the cluster"}
	if rec.Cluster != nil {
		detected = rec.Cluster.CNI
	}
	run := &Run{Name: name, byName: map[string]int{}, Properties: map[string]string{}, Record: rec}
	for _, rc := range rec.Cases {
		c := classifyRecord(rc, detected, set, rec.Start.Strict)
		run.byName[c.Name] = len(run.Cases)
		run.Cases = append(run.Cases, c)
	}
	m := metadataOf(rec, run)
	for _, p := range m.properties() {
		run.Properties[strings.TrimPrefix(p.Name, metadataPrefix)] = p.Value
	}
	return run
}

// classifyRecord gives one recorded case its verdict class.
func classifyRecord(rc record.Case, detected cni.Detection, set profiles.Set, strict bool) Case {
	c := Case{Name: rc.Name, Message: rc.Message, Detail: rc.Detail, OwnReadings: rc.OwnReadings}
	for _, s := range rc.Stages {
		if s.TimeToEnforce == nil {
			continue
		}
		switch d := s.TimeToEnforce.Duration; {
		case s.Name == record.ResetStage:
			c.TimeToRemove = d
		case d > c.TimeToEnforce:
			c.TimeToEnforce = d
		}
	}
	predicted := set.Lookup(detected.Name, detected.Version, record.TableCase(rc.Name))
	switch rc.Outcome {
	case record.NotRun:
		c.Verdict = NotRun
		return c
	case record.Skipped:
		c.Verdict = Skipped
		return c
	case record.Errored:
		// Failed for another reason than the cluster's behaviour: no
		// profile explains that.
		c.Verdict = Fail
		return c
	case record.Departed:
		var why string
		predicted, why = explain(rc, detected, set)
		c.Verdict = Classify(Fail, len(rc.OwnReadings) > 0, predicted)
		if predicted == nil && why != "" {
			c.Message += " (" + why + ")"
		}
	default:
		if predicted != nil && predicted.Placement != "" && !probedPlacement(rc, predicted) {
			// A deviation of cells this run had none of is not fixed
			// by passing without them.
			predicted = nil
		}
		c.Verdict = Classify(Pass, len(rc.OwnReadings) > 0, predicted)
	}
	source := ""
	if p := set.Profile(detected.Name); p != nil {
		source = "profiles/" + p.Source
	}
	switch c.Verdict {
	case Fixed:
		c.Message = fmt.Sprintf("FIXED: %s is expected to deviate here (%s), but the case passed. If the fix is real, set versions.fixedIn of this case in %s.",
			detected, predicted.Link, source)
	case KnownDeviation, ImplementationDefined:
		if predicted != nil {
			c.Message = fmt.Sprintf("%s of %s (%s, %s): %s See %s",
				c.Verdict, detected, source, predicted.Versions, strings.TrimSpace(predicted.Behaviour), predicted.Link)
		}
	}
	return c
}

// explain returns the deviation of the CNI's profile that predicts a
// departed case's observation exactly, or nil and why none does. A reading
// predicts for any case (the suite recorded which one reproduced every
// cell); a deviation without a reading predicts only the cells it lists,
// for the cases it names. A deviation that names the case but predicts
// other cells does not explain it: a different departure is a failure.
func explain(rc record.Case, detected cni.Detection, set profiles.Set) (*profiles.Deviation, string) {
	d, why := predicting(rc, detected, set)
	if d == nil || d.Placement == "" {
		return d, why
	}
	if len(rc.Departures) == 0 {
		return nil, fmt.Sprintf("not the known deviation %s: it is scoped to %s cells, and the record holds no wrong cell to check", d.Link, d.Placement)
	}
	other, unknown := misplaced(rc, d.Placement)
	switch {
	case other > 0:
		return nil, fmt.Sprintf("not the known deviation %s: it is scoped to %s cells, and %d of the %d wrong cells are not", d.Link, d.Placement, other, len(rc.Departures))
	case unknown > 0:
		return nil, fmt.Sprintf("not the known deviation %s: it is scoped to %s cells, and the nodes of %d of the %d wrong cells' pods are not recorded", d.Link, d.Placement, unknown, len(rc.Departures))
	}
	return d, ""
}

// podNodes counts the nodes the run's pods ran on, over every case.
func podNodes(rec *record.Run) int {
	nodes := map[string]bool{}
	for _, c := range rec.Cases {
		for _, n := range c.Placement {
			nodes[n] = true
		}
	}
	return len(nodes)
}

// misplaced counts the departed cells of rc with another placement than
// p, and those whose placement the record does not know.
func misplaced(rc record.Case, p record.Placement) (other, unknown int) {
	for _, c := range rc.Departures {
		switch got, ok := record.PlacementOf(rc.Placement, c.From, c.To); {
		case !ok:
			unknown++
		case got != p:
			other++
		}
	}
	return other, unknown
}

// probedPlacement reports whether a passing case probed a cell the
// deviation d, scoped to a placement, is about: one of the cells it lists
// with that placement, or for a reading (whose cells are not listed) any
// two pods so placed.
func probedPlacement(rc record.Case, d *profiles.Deviation) bool {
	if len(d.Departures) > 0 {
		for _, c := range d.Departures {
			if c.Case != record.TableCase(rc.Name) {
				continue
			}
			if got, ok := record.PlacementOf(rc.Placement, c.From, c.To); ok && got == d.Placement {
				return true
			}
		}
		return false
	}
	if d.Placement == record.CrossNode {
		return record.NodeCount(rc.Placement) > 1
	}
	// Two placed ends (pods, nodes) share a node when there are more of
	// them than nodes.
	return len(rc.Placement) > record.NodeCount(rc.Placement)
}

// predicting is explain without the placement scope.
func predicting(rc record.Case, detected cni.Detection, set profiles.Set) (*profiles.Deviation, string) {
	if d := set.ByReading(detected.Name, detected.Version, model.Reading(rc.Reading), record.TableCase(rc.Name)); d != nil {
		return d, ""
	}
	if set.Profile(detected.Name) != nil && detected.Version == "" {
		return nil, fmt.Sprintf("the version of %s is unknown, so its profile explains nothing: name it with %s=%s@vX.Y.Z", detected.Name, "NETPOL_CNI", detected.Name)
	}
	named := set.Lookup(detected.Name, detected.Version, record.TableCase(rc.Name))
	switch {
	case named == nil:
		return nil, ""
	case len(named.Departures) > 0 && sameDepartures(named.Departures, rc):
		return named, ""
	case named.Reading != "":
		return nil, fmt.Sprintf("not the known deviation %s: its reading %s predicts other cells", named.Link, named.Reading)
	case len(named.Departures) > 0:
		return nil, fmt.Sprintf("not the known deviation %s: it departs in other cells than the profile lists", named.Link)
	}
	return nil, fmt.Sprintf("the profile lists this case (%s) but states no prediction to check the observation against", named.Link)
}

// sameDepartures reports whether a case departed in exactly the cells a
// profile lists for it, each the way it says.
func sameDepartures(listed []profiles.Departure, rc record.Case) bool {
	type cell struct {
		stage, from, to string
		key             string
		observed        string
	}
	want := map[cell]bool{}
	for _, d := range listed {
		if d.Case != record.TableCase(rc.Name) {
			continue
		}
		proto := d.Protocol
		if proto == "" {
			proto = "TCP"
		}
		want[cell{d.Stage, d.From, d.To, fmt.Sprintf("%d/%s", d.Port, proto), d.Observed}] = true
	}
	got := map[cell]bool{}
	for _, d := range rc.Departures {
		got[cell{d.Stage, d.From, d.To, d.Key().String(), d.Observed.String()}] = true
	}
	return len(want) > 0 && maps.Equal(want, got)
}

// metadataOf is the run's metadata as report.json and the JUnit properties
// carry it.
func metadataOf(rec *record.Run, run *Run) Metadata {
	m := Metadata{
		SchemaVersion: MetadataSchemaVersion,
		RunID:         rec.Start.RunID,
		SuiteVersion:  rec.Start.SuiteVersion,
		CaseSetDigest: rec.Start.CaseSetDigest,
		CNI:           cni.Detection{Name: cni.Unknown, Evidence: "the suite did not reach the cluster"},
		Started:       rec.Start.Started.Time,
		Strict:        rec.Start.Strict,
		Verdicts:      run.Counts(),
	}
	m.Complete = rec.Finished() && rec.End.Interrupted == "" && !rec.Truncated && m.Verdicts[NotRun] == 0
	if rec.Cluster != nil {
		m.ReachedCluster = true
		m.KubernetesVersion, m.Nodes, m.CNI = rec.Cluster.KubernetesVersion, rec.Cluster.Nodes, rec.Cluster.CNI
	}
	m.PodNodes = podNodes(rec)
	if rec.End != nil {
		m.Finished = rec.End.Finished.Time
	}
	return m
}

// WriteReports renders a run's record as the JUnit report Sonobuoy and CI
// read, at junitPath, and report.json next to it, and returns the
// classified run. Both are written to a temporary name and renamed, so a
// reader never sees half a report.
func WriteReports(junitPath string, rec *record.Run, set profiles.Set) (*Run, error) {
	dir := filepath.Dir(junitPath)
	run := FromRecord("netpol-conformance", rec, set)
	doc := junitOf(run, rec)
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the JUnit report: %w", err)
	}
	if err := writeAtomic(junitPath, append([]byte(xml.Header), append(out, '\n')...)); err != nil {
		return nil, err
	}
	js, err := json.MarshalIndent(metadataOf(rec, run), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding run metadata: %w", err)
	}
	if err := writeAtomic(filepath.Join(dir, MetadataFile), append(js, '\n')); err != nil {
		return nil, err
	}
	return run, nil
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// junitOf renders the classified run as JUnit: one testcase per case, its
// status the verdict class. A failing case's message is one line and its
// body the detail, once. A known deviation (unless strict) and an
// implementation-defined reading are skipped testcases whose message is the
// profile's words and link, so a nightly job fails only on regressions and
// `sonobuoy results` shows why.
func junitOf(run *Run, rec *record.Run) reporters.JUnitTestSuites {
	suite := reporters.JUnitTestSuite{
		Name:      "netpol-conformance",
		Package:   "netpol-conformance",
		Timestamp: rec.Start.Started.UTC().Format(time.RFC3339),
	}
	m := metadataOf(rec, run)
	suite.Properties.Properties = m.properties()
	for i, c := range run.Cases {
		rc := rec.Cases[i]
		tc := reporters.JUnitTestCase{
			Name:      testcasePrefix + c.Name,
			Classname: "netpol-conformance",
			Status:    string(c.Verdict),
			Time:      rc.Finished.Sub(rc.Started.Time).Seconds(),
			SystemErr: strings.Join(append(append([]string{}, rc.Notes...), ownReadingLines(rc.OwnReadings)...), "\n"),
		}
		switch {
		case c.Verdict.Failing(m.Strict):
			tc.Failure = &reporters.JUnitFailure{Message: oneLine(c.Message), Type: "failed", Description: c.Detail}
			suite.Failures++
		case c.Verdict == KnownDeviation || c.Verdict == ImplementationDefined && rc.Outcome == record.Departed:
			// Sonobuoy keeps no skip message: the profile's words and link
			// open system-out, which `sonobuoy results --mode detailed` shows.
			tc.Skipped = &reporters.JUnitSkipped{Message: oneLine(c.Message)}
			tc.SystemOut = c.Message + "\n\nThe case failed as the profile predicts:\n" + c.Detail
			suite.Skipped++
		case c.Verdict == Skipped:
			tc.Skipped = &reporters.JUnitSkipped{Message: oneLine(c.Message)}
			suite.Skipped++
		case c.Verdict == Fixed:
			tc.SystemOut = c.Message
		}
		suite.TestCases = append(suite.TestCases, tc)
		suite.Tests++
		suite.Time += tc.Time
	}
	return reporters.JUnitTestSuites{
		Tests: suite.Tests, Failures: suite.Failures, Disabled: suite.Skipped, Time: suite.Time,
		TestSuites: []reporters.JUnitTestSuite{suite},
	}
}

// ownReadingLines renders implementation-defined cells as the suite always
// has, so older readers of system-err still find them.
func ownReadingLines(readings []string) []string {
	var out []string
	for _, r := range readings {
		out = append(out, implementationDefinedEntry+"\n"+r)
	}
	return out
}

// oneLine keeps a message to its first line: Sonobuoy prints it on its own.
func oneLine(s string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return first
}
