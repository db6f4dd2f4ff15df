package results

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"

	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netpol-conformance/netpol-conformance/cni"
	"github.com/netpol-conformance/netpol-conformance/model"
	"github.com/netpol-conformance/netpol-conformance/profiles"
	"github.com/netpol-conformance/netpol-conformance/reachability"
	"github.com/netpol-conformance/netpol-conformance/record"
)

// The testdata reports are real runs on the local cluster (2026-11-26):
// kube-network-policies and none through Sonobuoy (the tarballs `sonobuoy
// retrieve` gave), kube-router with the suite binary and Ginkgo's default
// JUnit naming.
func load(t *testing.T, path string) *Run {
	t.Helper()
	r, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return r
}

func TestLoadRecordedRuns(t *testing.T) {
	tests := []struct {
		path                string
		counts              map[Verdict]int
		wantCase            string
		wantVerdict         Verdict
		wantEnforcedAtLeast time.Duration
	}{
		// Two cases probe the API server, which the local cluster's pods
		// cannot reach: open cells, reported as implementation-defined.
		{"testdata/kube-network-policies.tar.gz", map[Verdict]int{Pass: 99, ImplementationDefined: 2}, "deny-all-ingress-in-x", Pass, time.Second},
		{"testdata/none.tar.gz", map[Verdict]int{Fail: 1, Skipped: 100}, "is enforced at all", Fail, 0},
		{"testdata/kube-router.xml", map[Verdict]int{Pass: 94, Fail: 5, ImplementationDefined: 2}, "egress-rule-without-policytypes-isolates-ingress", Fail, 0},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			r := load(t, tc.path)
			n := r.Counts()
			if !maps.Equal(n, tc.counts) {
				t.Errorf("counts = %v, want %v", n, tc.counts)
			}
			c := r.Case(tc.wantCase)
			if c == nil || c.Verdict != tc.wantVerdict || c.TimeToEnforce < tc.wantEnforcedAtLeast {
				t.Errorf("case %q = %+v, want %s", tc.wantCase, c, tc.wantVerdict)
			}
		})
	}
}

func TestParseRejectsWhatIsNotARun(t *testing.T) {
	tests := map[string]string{
		"not XML":            "hello",
		"empty JUnit":        `<testsuites><testsuite name="s" tests="0"></testsuite></testsuites>`,
		"only setup nodes":   `<testsuites><testsuite><testcase name="[ReportAfterSuite] progress" status="passed"/></testsuite></testsuites>`,
		"duplicate testcase": `<testsuites><testsuite><testcase name="NetworkPolicy a"/><testcase name="NetworkPolicy a"/></testsuite></testsuites>`,
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse("r", strings.NewReader(doc)); err == nil {
				t.Errorf("Parse accepted %s", name)
			}
		})
	}
	if _, err := Load("testdata/missing.xml"); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func egressFamily(name string) CaseInfo {
	if strings.HasPrefix(name, "egress") {
		return CaseInfo{Family: "egress", Tags: []string{"egress"}, Expected: "tables of " + name}
	}
	return CaseInfo{Tags: []string{"ingress"}}
}

func recordedMatrix(t *testing.T) *Matrix {
	runs := []*Run{load(t, "testdata/kube-network-policies.tar.gz"), load(t, "testdata/kube-router.xml"), load(t, "testdata/none.tar.gz")}
	return Compare(runs, egressFamily)
}

func TestCompareRecordedRuns(t *testing.T) {
	m := recordedMatrix(t)
	if len(m.Rows) != 101 {
		t.Fatalf("%d rows, want 101", len(m.Rows))
	}
	// kube-router's five failures and none's failed enforcement check
	// disagree; none's skips are no verdict and disagree with nothing.
	disagreeing := 0
	for i, row := range m.Rows {
		if row.Disagree {
			disagreeing++
			if i >= 6 {
				t.Errorf("disagreeing row %s at position %d: they come first", row.Case, i)
			}
		}
	}
	if disagreeing != 6 {
		t.Errorf("%d rows disagree, want 6", disagreeing)
	}
	md := m.Markdown()
	for _, want := range []string{
		"| kube-network-policies | — | — | — | 99 | 0 | 2 | 0 | 0 | 0 | 0 | 1.27s / 1.37s | 290ms / 420ms | — | — |",
		"| kube-router | — | — | — | 94 | 0 | 2 | 5 | 0 | 0 |",
		"| none | — | — | — | 0 | 0 | 0 | 1 | 0 | 0 | 100 | — |",
		"| `egress-rule-without-policytypes-isolates-ingress` | egress | pass 1.24s | **FAIL** | skipped |",
		"| `egress-to-apiserver-by-port` | implementation-defined 1.24s |",
		"### egress",
		"## Where the runs disagree (6 cases)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if strings.Contains(md, "Cross-node paths were not covered") {
		t.Error("runs that do not say where their pods ran are called one-node")
	}
}

// A run whose pods all ran on one node says, first thing, that no
// cross-node path was covered; one spread over two does not.
func TestCrossNodeCoverage(t *testing.T) {
	for _, tc := range []struct {
		props     map[string]string
		nodes     string
		uncovered bool
	}{
		{map[string]string{"nodes": "1", "podNodes": "1"}, "1, pods on 1", true},
		{map[string]string{"nodes": "3", "podNodes": "1"}, "3, pods on 1", true},
		{map[string]string{"nodes": "2", "podNodes": "2"}, "2, pods on 2", false},
		{map[string]string{"nodes": "2"}, "2", false},
		{map[string]string{"nodes": "1"}, "1", true},
		{map[string]string{"nodes": "1", "podNodes": "0"}, "1", true},
		{map[string]string{}, "—", false},
	} {
		r := &Run{Name: "r", Properties: tc.props}
		if got := r.Nodes(); got != tc.nodes {
			t.Errorf("%v: Nodes() = %q, want %q", tc.props, got, tc.nodes)
		}
		md := Compare([]*Run{r}, func(string) CaseInfo { return CaseInfo{} }).Markdown()
		if got := strings.Contains(md, "**Cross-node paths were not covered** by r:"); got != tc.uncovered {
			t.Errorf("%v: the report says cross-node paths were not covered: %v, want %v", tc.props, got, tc.uncovered)
		}
	}
	// From a record: the nodes of every case's pods, counted once.
	start := metav1.NewTime(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	for _, tc := range []struct {
		placements []map[string]string
		want       string
	}{
		{[]map[string]string{{"x/a": "n1", "x/b": "n1"}, {"x/a": "n1"}}, "1"},
		{[]map[string]string{{"x/a": "n1"}, {"x/a": "n2"}}, "2"},
		{nil, "0"},
	} {
		rec := &record.Run{
			Start:   record.Start{RunID: "r1", Started: start, Planned: []record.Planned{{Name: record.EnforcementCheck}}},
			Cluster: &record.Cluster{KubernetesVersion: "v1.34.2", Nodes: 2, CNI: cni.Detection{Name: "calico", Version: "v3.31.0"}},
			End:     &record.End{Finished: metav1.NewTime(start.Add(time.Minute))},
		}
		for i, p := range tc.placements {
			name := fmt.Sprintf("c%d", i)
			rec.Start.Planned = append(rec.Start.Planned, record.Planned{Name: name})
			rec.Cases = append(rec.Cases, record.Case{Name: name, Outcome: record.Passed, Placement: p})
		}
		rec.Complete("", start.Time)
		if got := FromRecord("r", rec, profiles.Set{}).Properties["podNodes"]; got != tc.want {
			t.Errorf("placements %v: podNodes %q, want %q", tc.placements, got, tc.want)
		}
	}
}

func TestCompareAgreeingRuns(t *testing.T) {
	r := load(t, "testdata/kube-network-policies.tar.gz")
	m := Compare([]*Run{r, r}, func(string) CaseInfo { return CaseInfo{Family: "f"} })
	for _, row := range m.Rows {
		if row.Disagree {
			t.Fatalf("a run disagrees with itself on %s", row.Case)
		}
	}
	if !strings.Contains(m.Markdown(), "Every case has the same reading of the spec in every run.") {
		t.Error("markdown does not say the runs agree")
	}
}

func TestHTML(t *testing.T) {
	var b strings.Builder
	if err := recordedMatrix(t).HTML(&b, "three engines"); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		"<title>three engines</title>",
		`<option>egress</option>`,
		`<tr data-tags=" egress " class="disagree">`,
		// A failing cell links to what the run observed, which holds the
		// truth-table diff; the case links to the tables the spec requires.
		`<td class="v-fail" data-sort="0000000000000"><a href="#run--1--egress-rule-without-policytypes-isolates-ingress">FAIL</a><div class="why"`,
		`<div id="run--1--egress-rule-without-policytypes-isolates-ingress">`,
		`80/TCP: diff (X = wrong, ? = implementation-defined or not pinned)`,
		`<section class="case" id="case--egress-rule-without-policytypes-isolates-ingress">`,
		`<pre>tables of egress-rule-without-policytypes-isolates-ingress</pre>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Self-contained: nothing is fetched from anywhere (a known
	// deviation's upstream link is a hyperlink, followed only if clicked).
	for _, external := range []string{"src=", "<link", "@import", "url("} {
		if strings.Contains(page, external) {
			t.Errorf("page refers to something outside itself: %q", external)
		}
	}
}

// TestJUnitStrict: a known deviation fails the comparison's JUnit only when
// strict; the recorded kube-router run, classified against its profile,
// holds one.
func TestJUnitStrict(t *testing.T) {
	m := Compare([]*Run{load(t, "../docs/runs/kube-router.tar.gz")}, egressFamily)
	for strict, want := range map[bool]string{false: `failures="0"`, true: `failures="1"`} {
		var b strings.Builder
		if err := m.JUnit(&b, strict); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), `<testsuites tests="104" disabled="0" errors="0" `+want) {
			t.Errorf("strict=%v: want %s:\n%s", strict, want, b.String()[:300])
		}
	}
}

func TestJUnit(t *testing.T) {
	m := recordedMatrix(t)
	for _, strict := range []bool{false, true} {
		var b strings.Builder
		if err := m.JUnit(&b, strict); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		// kube-router's five regressions and none's failed check.
		if !strings.Contains(out, `<testsuites tests="303" disabled="0" errors="0" failures="6"`) {
			t.Errorf("strict=%v: %s", strict, out[:300])
		}
		for _, want := range []string{
			`<testsuite name="kube-router" package="testdata/kube-router.xml" tests="101" disabled="0" skipped="2" errors="0" failures="5"`,
			`<testcase name="NetworkPolicy egress-rule-without-policytypes-isolates-ingress" classname="kube-router" status="fail"`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("strict=%v: JUnit lacks %q", strict, want)
			}
		}
	}
}

func TestDiff(t *testing.T) {
	knp := load(t, "testdata/kube-network-policies.tar.gz")
	kr := load(t, "testdata/kube-router.xml")
	d := Diff(knp, kr, 500*time.Millisecond)
	if !d.Regressed() || len(d.NewFailures) != 5 {
		t.Errorf("kube-network-policies -> kube-router: %d new failures, want 5\n%s", len(d.NewFailures), d)
	}
	back := Diff(kr, knp, 500*time.Millisecond)
	if back.Regressed() || len(back.Fixed) != 5 {
		t.Errorf("kube-router -> kube-network-policies: %d fixed, want 5, regressed=%v\n%s", len(back.Fixed), back.Regressed(), back)
	}
	// A nightly run whose cases stopped running regressed, whatever else.
	none := load(t, "testdata/none.tar.gz")
	if stopped := Diff(knp, none, time.Second); len(stopped.Stopped) != 100 || !strings.Contains(stopped.String(), "NO LONGER RUN (100)") {
		t.Errorf("kube-network-policies -> none: %d stopped, want 100", len(stopped.Stopped))
	}
	if same := Diff(knp, knp, 0); same.Regressed() || same.String() != "no change\n" {
		t.Errorf("a run against itself: %s", same)
	}
}

// kubeRouterProfile predicts one of the recorded kube-router run's
// failures and one case that run passed.
const kubeRouterProfile = `cni: kube-router
project: https://github.com/cloudnativelabs/kube-router
deviations:
- cases: [egress-rule-without-policytypes-isolates-ingress]
  class: known-deviation
  behaviour: ingress is not isolated
  versions: {since: v2.0.0}
  link: https://example.com/kube-router/1
  reading: rules-match-both-ways
- cases: [deny-all-ingress-in-x]
  class: known-deviation
  behaviour: was broken once
  versions: {fixedIn: v9.0.0}
  link: https://example.com/kube-router/2
- cases: [ns-selector-exists, ns-selector-exists-2]
  class: implementation-defined
  behaviour: reads it its own way
  link: https://example.com/kube-router/3
`

// TestWriteReports classifies a run's record against a profile and renders
// the JUnit report and report.json from it, then reads both back.
func TestWriteReports(t *testing.T) {
	set, err := profiles.Load(fstest.MapFS{"kube-router.yaml": {Data: []byte(kubeRouterProfile)}})
	if err != nil {
		t.Fatal(err)
	}
	start := metav1.NewTime(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	rec := func(detected cni.Detection, strict bool) *record.Run {
		r := &record.Run{
			Start: record.Start{RunID: "r1", Started: start, Strict: strict, Planned: []record.Planned{
				{Name: record.EnforcementCheck}, {Name: "egress-rule-without-policytypes-isolates-ingress"}, {Name: "deny-all-ingress-in-x"},
				{Name: "ns-selector-exists"}, {Name: "ns-selector-exists-2"}, {Name: "hairpin"}, {Name: "sctp-only"}, {Name: "cut-short"}}},
			Cluster: &record.Cluster{KubernetesVersion: "v1.34.2", Nodes: 1, CNI: detected},
			Cases: []record.Case{
				{Name: record.EnforcementCheck, Outcome: record.Passed},
				{Name: "egress-rule-without-policytypes-isolates-ingress", Outcome: record.Departed, Message: "the cluster departs in 2 cells", Detail: "80/TCP: diff ...",
					Reading: string(model.RulesMatchBothWays)},
				// Profiled, but the reading did not reproduce what it did: an
				// over-permissive failure is not hidden as the known one.
				{Name: "ns-selector-exists-2", Outcome: record.Departed, Message: "the cluster departs in 9 cells"},
				{Name: "deny-all-ingress-in-x", Outcome: record.Passed},
				// Profiled, but it failed on an error: no profile explains that.
				{Name: "ns-selector-exists", Outcome: record.Errored, Message: "timedout: probing"},
				{Name: "hairpin", Outcome: record.Passed, OwnReadings: []string{"x/a -> x/a: observed blocked"}},
				{Name: "sctp-only", Outcome: record.Skipped, Message: "SCTP not probed"},
			},
			End: &record.End{Finished: metav1.NewTime(start.Add(6 * time.Minute)), Interrupted: "the suite was killed by signal 9 after 6m0s"},
		}
		r.Complete(r.End.Interrupted, start.Time)
		return r
	}
	for _, tc := range []struct {
		name       string
		strict     bool
		detected   cni.Detection
		counts     map[Verdict]int
		junitFails int
	}{
		{"kube-router v2.1.0", false, cni.Detection{Name: "kube-router", Version: "v2.1.0"},
			map[Verdict]int{Pass: 1, KnownDeviation: 1, Fixed: 1, Fail: 2, ImplementationDefined: 1, Skipped: 1, NotRun: 1}, 3},
		{"strict", true, cni.Detection{Name: "kube-router", Version: "v2.1.0"},
			map[Verdict]int{Pass: 1, KnownDeviation: 1, Fixed: 1, Fail: 2, ImplementationDefined: 1, Skipped: 1, NotRun: 1}, 4},
		{"a version before the deviation", false, cni.Detection{Name: "kube-router", Version: "v1.6.0"},
			map[Verdict]int{Pass: 1, Fail: 3, Fixed: 1, ImplementationDefined: 1, Skipped: 1, NotRun: 1}, 4},
		{"an unknown version: the profile explains nothing", false, cni.Detection{Name: "kube-router"},
			map[Verdict]int{Pass: 2, Fail: 3, ImplementationDefined: 1, Skipped: 1, NotRun: 1}, 4},
		{"a CNI without a profile", false, cni.Detection{Name: cni.Unknown},
			map[Verdict]int{Pass: 2, Fail: 3, ImplementationDefined: 1, Skipped: 1, NotRun: 1}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := WriteReports(filepath.Join(dir, JUnitFile), rec(tc.detected, tc.strict), set); err != nil {
				t.Fatal(err)
			}
			r := load(t, filepath.Join(dir, JUnitFile))
			if r.Properties["kubernetesVersion"] != "v1.34.2" || r.Properties["cni"] != tc.detected.Name || r.Properties["complete"] != "false" || r.Properties["runID"] != "r1" {
				t.Errorf("properties = %v", r.Properties)
			}
			if n := r.Counts(); !maps.Equal(n, tc.counts) {
				t.Errorf("verdicts = %v, want %v", n, tc.counts)
			}
			// What a nightly job sees: JUnit failures are the regressions
			// and the cases that did not run (and the known deviations
			// under strict), nothing else.
			out, _ := os.ReadFile(filepath.Join(dir, JUnitFile))
			if got := strings.Count(string(out), "<failure "); got != tc.junitFails {
				t.Errorf("%d JUnit failures, want %d:\n%s", got, tc.junitFails, out)
			}
			if !strings.Contains(string(out), fmt.Sprintf(`errors="0" failures="%d"`, tc.junitFails)) {
				t.Errorf("suite counts wrong:\n%s", out[:300])
			}
			js, err := os.ReadFile(filepath.Join(dir, MetadataFile))
			if err != nil || !strings.Contains(string(js), `"schemaVersion": "netpol-conformance.report/v1"`) || !strings.Contains(string(js), `"complete": false`) {
				t.Errorf("report.json: %v\n%s", err, js)
			}
		})
	}
	t.Run("messages", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := WriteReports(filepath.Join(dir, JUnitFile), rec(cni.Detection{Name: "kube-router", Version: "v2.1.0"}, false), set); err != nil {
			t.Fatal(err)
		}
		r := load(t, filepath.Join(dir, JUnitFile))
		dev := r.Case("egress-rule-without-policytypes-isolates-ingress")
		if !strings.Contains(dev.Message, "known-deviation of kube-router v2.1.0 (profiles/kube-router.yaml, v2.0.0 and later): ingress is not isolated See https://example.com/kube-router/1") ||
			!strings.Contains(dev.Detail, "80/TCP: diff") {
			t.Errorf("known deviation: message %q, detail %q", dev.Message, dev.Detail)
		}
		if c := r.Case("ns-selector-exists-2"); c.Verdict != Fail || !strings.Contains(c.Message, "its reading") && !strings.Contains(c.Message, "no prediction") {
			t.Errorf("a departure the profile does not predict: %s %q", c.Verdict, c.Message)
		}
		if c := r.Case("cut-short"); c.Verdict != NotRun || c.Message != "did not run: the suite was killed by signal 9 after 6m0s" {
			t.Errorf("cut-short = %s %q", c.Verdict, c.Message)
		}
	})
}

func TestClassify(t *testing.T) {
	deviation := &profiles.Deviation{Class: profiles.KnownDeviation}
	openReading := &profiles.Deviation{Class: profiles.ImplementationDefined}
	tests := []struct {
		raw         Verdict
		ownReadings bool
		predicted   *profiles.Deviation
		want        Verdict
	}{
		{Pass, false, nil, Pass},
		{Pass, true, nil, ImplementationDefined},
		{Pass, false, deviation, Fixed},
		{Pass, true, openReading, Fixed},
		{Fail, false, nil, Fail},
		{Fail, true, nil, Fail},
		{Fail, false, deviation, KnownDeviation},
		{Fail, false, openReading, ImplementationDefined},
		{Skipped, false, deviation, Skipped},
	}
	for _, tc := range tests {
		if got := Classify(tc.raw, tc.ownReadings, tc.predicted); got != tc.want {
			t.Errorf("Classify(%s, %v, %+v) = %s, want %s", tc.raw, tc.ownReadings, tc.predicted, got, tc.want)
		}
	}
}

func TestParseRejectsContradictionsAndSecondDocuments(t *testing.T) {
	for name, doc := range map[string]string{
		"pass next to a failure": `<testsuites><testsuite><testcase name="NetworkPolicy a" status="pass" time="1"><failure message="m"/></testcase></testsuite></testsuites>`,
		"failed and skipped":     `<testsuites><testsuite><testcase name="NetworkPolicy a" time="1"><failure message="m"/><skipped message="s"/></testcase></testsuite></testsuites>`,
		"a second document":      `<testsuites><testsuite><testcase name="NetworkPolicy a" time="1"/></testsuite></testsuites><testsuites><testsuite><testcase name="NetworkPolicy b" time="1"/></testsuite></testsuites>`,
		"text after the report":  `<testsuites><testsuite><testcase name="NetworkPolicy a" time="1"/></testsuite></testsuites>garbage`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse("r", strings.NewReader(doc)); err == nil {
				t.Errorf("Parse accepted %s", name)
			}
		})
	}
	if _, err := Parse("r", strings.NewReader(`<testsuites><testsuite><testcase name="NetworkPolicy a" time="1"/></testsuite></testsuites>`+"\n<!-- c -->\n")); err != nil {
		t.Errorf("whitespace and a comment after the report: %v", err)
	}
}

// Runs that tested nothing are refused by compare and diff, never shown as
// passes.
func TestUsable(t *testing.T) {
	journal := func(cluster bool, cases ...string) string {
		s := `{"start":{"schema":"` + record.Schema + `","runID":"r","started":null,"strict":false,"planned":[{"name":"is enforced at all"}]}}` + "\n"
		if cluster {
			s += `{"cluster":{"kubernetesVersion":"v1.34.2","nodes":1,"cni":{"name":"calico"}}}` + "\n"
		}
		for _, c := range cases {
			s += c + "\n"
		}
		return s + `{"end":{"finished":null}}` + "\n"
	}
	enforced := `{"case":{"name":"is enforced at all","outcome":"passed","started":null,"finished":null}}`
	notEnforced := `{"case":{"name":"is enforced at all","outcome":"departed","message":"NOT enforced","started":null,"finished":null}}`
	skipped := `{"case":{"name":"a","outcome":"skipped","message":"filtered","started":null,"finished":null}}`
	passed := `{"case":{"name":"a","outcome":"passed","started":null,"finished":null}}`
	for _, tc := range []struct {
		name, file, content, want string
	}{
		{"never reached the cluster", "r.jsonl", journal(false, `{"case":{"name":"is enforced at all","outcome":"errored","message":"reading the cluster's version: timeout","started":null,"finished":null}}`), "never reached the cluster (reading the cluster's version: timeout)"},
		{"only the enforcement check", "r.jsonl", journal(true, enforced), "only the enforcement check"},
		{"every case skipped", "r.jsonl", journal(true, enforced, skipped), "all 1 cases were skipped"},
		{"a dry run", "r.xml", `<testsuites><testsuite><testcase name="NetworkPolicy is enforced at all" time="0"/><testcase name="NetworkPolicy a" time="0"/></testsuite></testsuites>`, "a dry run"},
		{"not enforced: usable, that is its finding", "r.jsonl", journal(true, notEnforced, skipped), ""},
		{"a real run", "r.jsonl", journal(true, enforced, passed), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.file)
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			err = r.Usable()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Usable: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Usable: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLoadRefusesDoubledAndOversizedTarballs(t *testing.T) {
	tarball := func(files map[string]string, names ...string) string {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		tw := tar.NewWriter(gz)
		for _, n := range names {
			tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n]))})
			tw.Write([]byte(files[n]))
		}
		tw.Close()
		gz.Close()
		path := filepath.Join(t.TempDir(), "r.tar.gz")
		os.WriteFile(path, buf.Bytes(), 0o644)
		return path
	}
	report := `<testsuites><testsuite><testcase name="NetworkPolicy a" time="1"/></testsuite></testsuites>`
	doubled := tarball(map[string]string{"a/" + JUnitFile: report, "b/" + JUnitFile: report}, "a/"+JUnitFile, "b/"+JUnitFile)
	if _, err := Load(doubled); err == nil || !strings.Contains(err.Error(), "two "+JUnitFile) {
		t.Errorf("a tarball with two reports: %v", err)
	}
	defer func(l int64) { uncompressedLimit = l }(uncompressedLimit)
	uncompressedLimit = 1 << 20
	bomb := tarball(map[string]string{"filler": strings.Repeat("0", 1<<20+1)}, "filler")
	if _, err := Load(bomb); err == nil || !strings.Contains(err.Error(), "after decompression") {
		t.Errorf("a tarball past the uncompressed bound: %v", err)
	}
}

func TestDiffFailsOnCasesOneRunLacksAndOnStrictRuns(t *testing.T) {
	mk := func(strict bool, cases ...Case) *Run {
		r := &Run{Name: "r", byName: map[string]int{}, Properties: map[string]string{"strict": fmt.Sprint(strict)}}
		for _, c := range cases {
			r.byName[c.Name] = len(r.Cases)
			r.Cases = append(r.Cases, c)
		}
		return r
	}
	old := mk(false, Case{Name: "a", Verdict: Pass}, Case{Name: "b", Verdict: Pass})
	if d := Diff(old, mk(false, Case{Name: "a", Verdict: Pass}, Case{Name: "b", Verdict: Pass}, Case{Name: "c", Verdict: Pass}), 0); !d.Regressed() || !strings.Contains(d.String(), "NOT RUN in the old run (1)") {
		t.Errorf("a case the old run lacks: %s", d)
	}
	if d := Diff(old, mk(false, Case{Name: "a", Verdict: Pass}), 0); !d.Regressed() || !strings.Contains(d.String(), "NOT RUN in the new run (1)") {
		t.Errorf("a case the new run lacks: %s", d)
	}
	if d := Diff(old, mk(false, Case{Name: "a", Verdict: Pass}, Case{Name: "b", Verdict: NotRun}), 0); !d.Regressed() {
		t.Errorf("a case that did not run: %s", d)
	}
	killed := mk(false, Case{Name: "a", Verdict: Pass}, Case{Name: "b", Verdict: NotRun})
	if d := Diff(killed, mk(false, Case{Name: "a", Verdict: Pass}, Case{Name: "b", Verdict: Fail}), 0); !d.Regressed() {
		t.Errorf("not run last night, failing tonight: %s", d)
	}
	if d := Diff(killed, killed, 0); !d.Regressed() {
		t.Errorf("not run two nights running: %s", d)
	}
	if d := Diff(mk(false, Case{Name: "a", Verdict: Pass}, Case{Name: "b", Verdict: Fail}), killed, 0); !d.Regressed() {
		t.Errorf("failing last night, not run tonight: %s", d)
	}
	if d := Diff(old, mk(true, Case{Name: "a", Verdict: Pass}, Case{Name: "b", Verdict: KnownDeviation}), 0); !d.Regressed() {
		t.Errorf("a known deviation in a strict run: %s", d)
	}
	if d := Diff(old, mk(false, Case{Name: "a", Verdict: Pass}, Case{Name: "b", Verdict: KnownDeviation}), 0); d.Regressed() {
		t.Errorf("a known deviation in a non-strict run regressed: %s", d)
	}
}

// Names in reports are input: a newline or a pipe in one must not add rows
// or columns to the Markdown.
func TestMarkdownEscapesNames(t *testing.T) {
	r := &Run{Name: "evil|run", byName: map[string]int{}, Properties: map[string]string{"cni": "x\n| injected | row |"}}
	r.Cases = []Case{{Name: "a\n| injected | row |", Verdict: Pass}}
	r.byName[r.Cases[0].Name] = 0
	out := Compare([]*Run{r}, func(string) CaseInfo { return CaseInfo{} }).Markdown()
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| injected") {
			t.Errorf("a name injected a row:\n%s", out)
		}
	}
	if strings.Contains(out, "| evil|run |") {
		t.Errorf("a pipe in a run name split its cell:\n%s", out)
	}
}

func TestJSONDocuments(t *testing.T) {
	old, err := Load("../docs/runs/kube-router.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	cur, err := Load("../docs/runs/cilium.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := Compare([]*Run{old, cur}, func(string) CaseInfo { return CaseInfo{} }).JSON(&b); err != nil {
		t.Fatal(err)
	}
	var cmp ComparisonJSON
	if err := json.Unmarshal([]byte(b.String()), &cmp); err != nil {
		t.Fatal(err)
	}
	if cmp.SchemaVersion != ComparisonSchemaVersion || len(cmp.Runs) != 2 || len(cmp.Cases) != len(old.Cases) {
		t.Fatalf("comparison: schema %q, %d runs, %d cases", cmp.SchemaVersion, len(cmp.Runs), len(cmp.Cases))
	}
	if !cmp.Cases[0].Disagree || cmp.Runs[1].Counts[Fail] == 0 {
		t.Errorf("the first row must be a disagreement and the Cilium run must count its failures: %+v %+v", cmp.Cases[0], cmp.Runs[1].Counts)
	}
	b.Reset()
	d := Diff(old, cur, time.Second)
	if err := d.JSON(&b, old, cur); err != nil {
		t.Fatal(err)
	}
	var dj DiffJSON
	if err := json.Unmarshal([]byte(b.String()), &dj); err != nil {
		t.Fatal(err)
	}
	if !dj.Regressed || len(dj.NewFailures) != len(d.NewFailures) || dj.NewFailures[0].New.Verdict != Fail || !dj.NewFailures[0].New.Failing {
		t.Errorf("diff JSON does not say what regressed: %+v", dj.NewFailures)
	}
	if dj.Gone == nil || dj.Added == nil {
		t.Error("empty lists must be [], not null: consumers index them")
	}
}

// A repetition (NAME#K, --netpol.repeat) is read against its case's
// profile entry like the case itself.
func TestRepetitionsAreReadAsTheirCase(t *testing.T) {
	set, err := profiles.Load(fstest.MapFS{"kube-router.yaml": {Data: []byte(kubeRouterProfile)}})
	if err != nil {
		t.Fatal(err)
	}
	const name = "egress-rule-without-policytypes-isolates-ingress"
	start := metav1.NewTime(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	rec := &record.Run{
		Start:   record.Start{RunID: "r1", Started: start, Planned: []record.Planned{{Name: record.EnforcementCheck}, {Name: record.Repetition(name, 1)}, {Name: record.Repetition(name, 2)}}},
		Cluster: &record.Cluster{KubernetesVersion: "v1.34.2", Nodes: 1, CNI: cni.Detection{Name: "kube-router", Version: "v2.1.0"}},
		Cases: []record.Case{
			{Name: record.EnforcementCheck, Outcome: record.Passed},
			{Name: record.Repetition(name, 1), Outcome: record.Departed, Message: "departs", Reading: string(model.RulesMatchBothWays)},
			{Name: record.Repetition(name, 2), Outcome: record.Passed},
		},
		End: &record.End{Finished: metav1.NewTime(start.Add(time.Minute))},
	}
	rec.Complete("", start.Time)
	run := FromRecord("repeated", rec, set)
	for k, want := range map[int]Verdict{1: KnownDeviation, 2: Fixed} {
		if c := run.Case(record.Repetition(name, k)); c == nil || c.Verdict != want {
			t.Errorf("%s#%d: %+v, want %s as for %s itself", name, k, c, want, name)
		}
	}
}

// A deviation scoped to a placement explains a departure only when every
// wrong cell has that placement; unscoped, any.
func TestPlacementScopedDeviation(t *testing.T) {
	const profile = `cni: kube-router
project: https://github.com/cloudnativelabs/kube-router
deviations:
- cases: [c-same]
  class: known-deviation
  behaviour: departs between pods on one node.
  link: https://example.com/same
  placement: same-node
  departures:
  - {case: c-same, stage: initial, from: x/a, to: x/b, port: 80, observed: allowed}
- cases: [c-cross]
  class: known-deviation
  behaviour: departs across nodes.
  link: https://example.com/cross
  placement: cross-node
  departures:
  - {case: c-cross, stage: initial, from: x/a, to: x/b, port: 80, observed: allowed}
- cases: [c-any]
  class: known-deviation
  behaviour: departs anywhere.
  link: https://example.com/any
  departures:
  - {case: c-any, stage: initial, from: x/a, to: x/b, port: 80, observed: allowed}
`
	set, err := profiles.Load(fstest.MapFS{"kube-router.yaml": {Data: []byte(profile)}})
	if err != nil {
		t.Fatal(err)
	}
	oneNode := map[string]string{"x/a": "n1", "x/b": "n1"}
	twoNodes := map[string]string{"x/a": "n1", "x/b": "n2"}
	for _, tc := range []struct {
		name      string
		caseName  string
		placement map[string]string
		want      Verdict
	}{
		{"same-node entry, same-node cell", "c-same", oneNode, KnownDeviation},
		{"same-node entry, cross-node cell", "c-same", twoNodes, Fail},
		{"cross-node entry, cross-node cell", "c-cross", twoNodes, KnownDeviation},
		{"cross-node entry, same-node cell", "c-cross", oneNode, Fail},
		{"cross-node entry, placement unrecorded", "c-cross", nil, Fail},
		{"cross-node entry, one end unplaced", "c-cross", map[string]string{"x/a": "n1"}, Fail},
		{"unscoped entry, same-node cell", "c-any", oneNode, KnownDeviation},
		{"unscoped entry, cross-node cell", "c-any", twoNodes, KnownDeviation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := metav1.NewTime(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
			rec := &record.Run{
				Start:   record.Start{RunID: "r1", Started: start, Planned: []record.Planned{{Name: record.EnforcementCheck}, {Name: tc.caseName}}},
				Cluster: &record.Cluster{KubernetesVersion: "v1.34.2", Nodes: 2, CNI: cni.Detection{Name: "kube-router", Version: "v2.1.0"}},
				Cases: []record.Case{
					{Name: record.EnforcementCheck, Outcome: record.Passed},
					{Name: tc.caseName, Outcome: record.Departed, Message: "departs", Placement: tc.placement,
						Departures: []record.Cell{{Stage: "initial", From: "x/a", To: "x/b", Port: 80, Protocol: "TCP", Expected: reachability.Blocked, Observed: reachability.Allowed}}},
				},
				End: &record.End{Finished: metav1.NewTime(start.Add(time.Minute))},
			}
			rec.Complete("", start.Time)
			c := FromRecord("scoped", rec, set).Case(tc.caseName)
			if c == nil || c.Verdict != tc.want {
				t.Fatalf("%+v, want %s", c, tc.want)
			}
			if tc.want == Fail && !strings.Contains(c.Message, "scoped to") {
				t.Errorf("the failure does not say why the entry does not apply: %s", c.Message)
			}
		})
	}
	// Passing without a cell of the entry's placement is not a fix.
	for _, tc := range []struct {
		caseName  string
		placement map[string]string
		want      Verdict
	}{
		{"c-cross", oneNode, Pass},
		{"c-cross", twoNodes, Fixed},
		{"c-same", map[string]string{"x/a": "n1", "x/b": "n2"}, Pass},
		{"c-same", map[string]string{"x/a": "n1", "x/b": "n1"}, Fixed},
		// Other pods shared a node, but not the listed cell's: not a fix.
		{"c-same", map[string]string{"x/a": "n1", "x/b": "n2", "x/c": "n1"}, Pass},
		{"c-any", oneNode, Fixed},
	} {
		start := metav1.NewTime(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
		rec := &record.Run{
			Start:   record.Start{RunID: "r1", Started: start, Planned: []record.Planned{{Name: record.EnforcementCheck}, {Name: tc.caseName}}},
			Cluster: &record.Cluster{KubernetesVersion: "v1.34.2", Nodes: 2, CNI: cni.Detection{Name: "kube-router", Version: "v2.1.0"}},
			Cases:   []record.Case{{Name: record.EnforcementCheck, Outcome: record.Passed}, {Name: tc.caseName, Outcome: record.Passed, Placement: tc.placement}},
			End:     &record.End{Finished: metav1.NewTime(start.Add(time.Minute))},
		}
		rec.Complete("", start.Time)
		if c := FromRecord("scoped", rec, set).Case(tc.caseName); c == nil || c.Verdict != tc.want {
			t.Errorf("%s passing on %v: %+v, want %s", tc.caseName, tc.placement, c, tc.want)
		}
	}
	if _, problems := profiles.Parse("kube-router.yaml", []byte(strings.Replace(profile, "placement: same-node", "placement: one-node", 1))); len(problems) == 0 || !strings.Contains(problems[0].Error(), "placement") {
		t.Errorf("an unknown placement was accepted: %v", problems)
	}
}
