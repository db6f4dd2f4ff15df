package results

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/netpol-conformance/netpol-conformance/cni"
	"github.com/netpol-conformance/netpol-conformance/profiles"
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
		"| kube-network-policies | — | — | 99 | 0 | 2 | 0 | 0 | 0 | 1.27s / 1.37s | 290ms / 420ms | — | — |",
		"| kube-router | — | — | 94 | 0 | 2 | 5 | 0 | 0 |",
		"| none | — | — | 0 | 0 | 0 | 1 | 0 | 100 | — |",
		"| `egress-rule-without-policytypes-isolates-ingress` | egress | pass 1.24s | **FAIL** | skipped |",
		"| `egress-to-apiserver-by-port` | implementation-defined 1.24s |",
		"### egress",
		"## Where the runs disagree (6 cases)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
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
		`<td class="v-fail" data-sort="0000000000000"><a href="#run--1--egress-rule-without-policytypes-isolates-ingress">FAIL</a></td>`,
		`<div id="run--1--egress-rule-without-policytypes-isolates-ingress">`,
		`80/TCP: diff (X = wrong, ? = implementation-defined or not pinned)`,
		`<section class="case" id="case--egress-rule-without-policytypes-isolates-ingress">`,
		`<pre>tables of egress-rule-without-policytypes-isolates-ingress</pre>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Self-contained: nothing is fetched from anywhere.
	for _, external := range []string{"src=", "<link", "@import", "http://", "https://"} {
		if strings.Contains(page, external) {
			t.Errorf("page refers to something outside itself: %q", external)
		}
	}
}

// TestJUnitStrict: a known deviation fails the comparison's JUnit only when
// strict; the recorded kube-router run, classified against its real
// profile, holds one.
func TestJUnitStrict(t *testing.T) {
	set, err := profiles.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := os.ReadFile("testdata/kube-router.xml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kube-router.xml")
	data := strings.Replace(string(recorded), `message="== initial`, `message="`+DepartureHeader+`&#xA;== initial`, 1)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Finish(path, Metadata{CNI: cni.Detection{Name: "kube-router", Version: "v2.1.0"}}, set); err != nil {
		t.Fatal(err)
	}
	m := Compare([]*Run{load(t, path)}, egressFamily)
	for strict, want := range map[bool]string{false: `failures="4"`, true: `failures="5"`} {
		var b strings.Builder
		if err := m.JUnit(&b, strict); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), `<testsuites tests="101" disabled="0" errors="0" `+want) {
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
- cases: [deny-all-ingress-in-x]
  class: known-deviation
  behaviour: was broken once
  versions: {fixedIn: v9.0.0}
  link: https://example.com/kube-router/2
- cases: [ns-selector-exists]
  class: implementation-defined
  behaviour: reads it its own way
  link: https://example.com/kube-router/3
`

// TestFinish classifies a recorded JUnit report against a profile and
// writes its metadata, then reads both back.
func TestFinish(t *testing.T) {
	set, err := profiles.Load(fstest.MapFS{"kube-router.yaml": {Data: []byte(kubeRouterProfile)}})
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := os.ReadFile("testdata/kube-router.xml")
	if err != nil {
		t.Fatal(err)
	}
	// The recorded run predates the departure header; its other four
	// failures are errors of the run (probing from a missing DNS pod),
	// which no profile may explain.
	data := []byte(strings.Replace(string(recorded), `message="== initial`, `message="`+DepartureHeader+`&#xA;== initial`, 1))
	start := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		strict     bool
		detected   cni.Detection
		counts     map[Verdict]int
		junitFails int
	}{
		{"kube-router v2.1.0", false, cni.Detection{Name: "kube-router", Version: "v2.1.0"},
			// Two passing cases took their own readings of open cells.
			// ns-selector-exists is profiled, but failed on an error.
			map[Verdict]int{Pass: 93, Fail: 4, KnownDeviation: 1, Fixed: 1, ImplementationDefined: 2}, 4},
		{"strict", true, cni.Detection{Name: "kube-router", Version: "v2.1.0"},
			map[Verdict]int{Pass: 93, Fail: 4, KnownDeviation: 1, Fixed: 1, ImplementationDefined: 2}, 5},
		{"a version before the deviation", false, cni.Detection{Name: "kube-router", Version: "v1.6.0"},
			map[Verdict]int{Pass: 93, Fail: 5, Fixed: 1, ImplementationDefined: 2}, 5},
		{"an unknown version: a bounded deviation that did not happen is no news", false, cni.Detection{Name: "kube-router"},
			map[Verdict]int{Pass: 94, Fail: 4, KnownDeviation: 1, ImplementationDefined: 2}, 4},
		{"a CNI without a profile", false, cni.Detection{Name: cni.Unknown},
			map[Verdict]int{Pass: 94, Fail: 5, ImplementationDefined: 2}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), JUnitFile)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			m := Metadata{SuiteVersion: "v0.1.0", KubernetesVersion: "v1.34.2", Nodes: 1, CaseSetDigest: "sha256:0123456789abcdef",
				CNI: tc.detected, Strict: tc.strict, Started: start, Finished: start.Add(6 * time.Minute)}
			if err := Finish(path, m, set); err != nil {
				t.Fatal(err)
			}
			r := load(t, path)
			if r.Properties["kubernetesVersion"] != "v1.34.2" || r.Properties["cni"] != tc.detected.Name || r.Properties["finished"] != "2026-11-26T09:06:00Z" {
				t.Errorf("properties = %v", r.Properties)
			}
			if n := r.Counts(); !maps.Equal(n, tc.counts) {
				t.Errorf("verdicts = %v, want %v", n, tc.counts)
			}
			// What a nightly job sees: JUnit failures are the regressions
			// (and the known deviations under --strict), nothing else.
			out, _ := os.ReadFile(path)
			if got := strings.Count(string(out), "<failure "); got != tc.junitFails {
				t.Errorf("%d JUnit failures, want %d", got, tc.junitFails)
			}
			if !strings.Contains(string(out), fmt.Sprintf(`errors="0" failures="%d"`, tc.junitFails)) {
				t.Errorf("suite counts not recomputed:\n%s", out[:200])
			}
			js, err := os.ReadFile(filepath.Join(filepath.Dir(path), MetadataFile))
			if err != nil || !strings.Contains(string(js), `"schemaVersion": "netpol-conformance.report/v1"`) || !strings.Contains(string(js), `"verdicts": {`) {
				t.Errorf("report.json: %v\n%s", err, js)
			}
		})
	}
	t.Run("a timeout is never a known deviation", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), JUnitFile)
		// The first failure of the report is that case's.
		timedOut := strings.Replace(string(data), `" type="failed">`, `" type="timedout">`, 1)
		if err := os.WriteFile(path, []byte(timedOut), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := Finish(path, Metadata{CNI: cni.Detection{Name: "kube-router", Version: "v2.1.0"}}, set); err != nil {
			t.Fatal(err)
		}
		if c := load(t, path).Case("egress-rule-without-policytypes-isolates-ingress"); c.Verdict != Fail {
			t.Errorf("a timed-out profiled case is %s, want fail", c.Verdict)
		}
	})
	t.Run("messages", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), JUnitFile)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := Finish(path, Metadata{CNI: cni.Detection{Name: "kube-router", Version: "v2.1.0"}}, set); err != nil {
			t.Fatal(err)
		}
		r := load(t, path)
		dev := r.Case("egress-rule-without-policytypes-isolates-ingress")
		if !strings.Contains(dev.Message, "known-deviation of kube-router v2.1.0 (profiles/kube-router.yaml, v2.0.0 and later): ingress is not isolated See https://example.com/kube-router/1") ||
			!strings.Contains(dev.Detail, "80/TCP: diff") {
			t.Errorf("known deviation: message %q, detail %q", dev.Message, dev.Detail)
		}
		if fixed := r.Case("deny-all-ingress-in-x"); fixed.Verdict != Fixed {
			t.Errorf("deny-all-ingress-in-x = %s, want fixed", fixed.Verdict)
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
