package results

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
		pass, fail, skip    int
		wantCase            string
		wantVerdict         Verdict
		wantEnforcedAtLeast time.Duration
	}{
		{"testdata/kube-network-policies.tar.gz", 101, 0, 0, "deny-all-ingress-in-x", Pass, time.Second},
		{"testdata/none.tar.gz", 0, 1, 100, "is enforced at all", Fail, 0},
		{"testdata/kube-router.xml", 96, 5, 0, "egress-rule-without-policytypes-isolates-ingress", Fail, 0},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			r := load(t, tc.path)
			n := r.Counts()
			if n[Pass] != tc.pass || n[Fail] != tc.fail || n[Skipped] != tc.skip {
				t.Errorf("counts = %v, want pass %d fail %d skipped %d", n, tc.pass, tc.fail, tc.skip)
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

func TestCompareRecordedRuns(t *testing.T) {
	runs := []*Run{load(t, "testdata/kube-network-policies.tar.gz"), load(t, "testdata/kube-router.xml"), load(t, "testdata/none.tar.gz")}
	m := Compare(runs, func(name string) string {
		if strings.HasPrefix(name, "egress") {
			return "egress"
		}
		return ""
	})
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
		"| kube-network-policies | 101 | 0 | 0 | — | — | — |",
		"| kube-router | 96 | 5 | 0 |",
		"| none | 0 | 1 | 100 |",
		"| `egress-rule-without-policytypes-isolates-ingress` | egress | pass ",
		"| **FAIL** | skipped |",
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
	m := Compare([]*Run{r, r}, func(string) string { return "f" })
	for _, row := range m.Rows {
		if row.Disagree {
			t.Fatalf("a run disagrees with itself on %s", row.Case)
		}
	}
	if !strings.Contains(m.Markdown(), "Every case has the same verdict in every run.") {
		t.Error("markdown does not say the runs agree")
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
	if same := Diff(knp, knp, 0); same.Regressed() || same.String() != "no change\n" {
		t.Errorf("a run against itself: %s", same)
	}
}

// TestMetadataRoundTrip writes a run's metadata into a recorded JUnit
// report and reads it back, unchanged cases included.
func TestMetadataRoundTrip(t *testing.T) {
	data, err := os.ReadFile("testdata/kube-router.xml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), JUnitFile)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	m := Metadata{SuiteVersion: "v0.1.0", KubernetesVersion: "v1.34.2", Nodes: 1, CaseSetDigest: "sha256:0123456789abcdef", Started: start, Finished: start.Add(6 * time.Minute)}
	if err := WriteMetadata(path, m); err != nil {
		t.Fatal(err)
	}
	r := load(t, path)
	if r.Properties["kubernetesVersion"] != "v1.34.2" || r.Properties["nodes"] != "1" || r.Properties["finished"] != "2026-11-26T09:06:00Z" {
		t.Errorf("properties = %v", r.Properties)
	}
	if n := r.Counts(); n[Pass] != 96 || n[Fail] != 5 {
		t.Errorf("rewriting the report changed its cases: %v", n)
	}
	js, err := os.ReadFile(filepath.Join(filepath.Dir(path), MetadataFile))
	if err != nil || !strings.Contains(string(js), `"schemaVersion": "netpol-conformance.report/v1"`) {
		t.Errorf("report.json: %v\n%s", err, js)
	}
	if md := Compare([]*Run{r}, func(string) string { return "" }).Markdown(); !strings.Contains(md, "| v1.34.2 | v0.1.0 | sha256:0123456789ab |") {
		t.Errorf("the summary lacks the metadata:\n%s", md[:300])
	}
}
