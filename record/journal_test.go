package record

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netpol-conformance/netpol-conformance/reachability"
)

func start() Start {
	return Start{RunID: "abcde", Planned: []Planned{{Name: EnforcementCheck}, {Name: "one"}, {Name: "two"}}}
}

func TestJournalRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), JournalFile)
	j, err := Create(path, start())
	if err != nil {
		t.Fatal(err)
	}
	d := metav1.Duration{Duration: 1300 * time.Millisecond}
	cs := Case{Name: "one", Outcome: Departed, Message: "m",
		Stages:     []Stage{{Name: "step 1", Passes: 3, Converged: false, TimeToEnforce: &d}},
		Departures: []Cell{{Stage: "step 1", From: "x/a", To: "x/b", Port: 80, Protocol: "TCP", Expected: reachability.Blocked, Observed: reachability.Allowed}}}
	for _, e := range []Entry{{Cluster: &Cluster{Nodes: 2}}, {Case: &cs}} {
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), `"observed":"allowed"`) {
		t.Errorf("outcomes are not written by name:\n%s", data)
	}
	run, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if run.Finished() || run.Truncated || run.Cluster.Nodes != 2 || len(run.Cases) != 1 {
		t.Fatalf("read back %+v", run)
	}
	got := run.Cases[0]
	if got.Departures[0].Observed != reachability.Allowed || got.Stages[0].TimeToEnforce.Duration != d.Duration {
		t.Errorf("case read back as %+v", got)
	}
	if n := run.Complete("suite killed by signal 9 after 26 s", time.Now()); n != 2 {
		t.Errorf("Complete added %d cases, want 2", n)
	}
	var names []string
	for _, c := range run.Cases {
		names = append(names, c.Name+"="+string(c.Outcome))
	}
	if want := "is enforced at all=not-run one=departed two=not-run"; strings.Join(names, " ") != want {
		t.Errorf("completed cases %q, want %q", strings.Join(names, " "), want)
	}
	if msg := run.Cases[2].Message; msg != "did not run: suite killed by signal 9 after 26 s" {
		t.Errorf("not-run message %q", msg)
	}
}

func TestReadRefusesWhatIsNotOneRun(t *testing.T) {
	startLine := `{"start":{"schema":"` + Schema + `","runID":"r","started":null,"strict":false,"planned":[{"name":"one"}]}}` + "\n"
	caseLine := `{"case":{"name":"one","outcome":"passed","started":null,"finished":null}}` + "\n"
	for _, tc := range []struct{ name, journal, want string }{
		{"empty", "", "the run never started"},
		{"no start", caseLine, "opens with its start entry"},
		{"other schema", strings.Replace(startLine, Schema, "other/v9", 1), "schema"},
		{"second start", startLine + startLine, "two runs in one journal"},
		{"case twice", startLine + caseLine + caseLine, "recorded twice"},
		{"unknown outcome", startLine + strings.Replace(caseLine, "passed", "pass", 1), "outcome"},
		{"unknown field", startLine + strings.Replace(caseLine, `"outcome"`, `"verdict":"x","outcome"`, 1), "unknown field"},
		{"two documents on a line", startLine + strings.TrimSuffix(caseLine, "\n") + caseLine, "more than one document"},
		{"two kinds in one entry", startLine + `{"end":{"finished":null},"cluster":{"kubernetesVersion":"","nodes":1,"cni":{"name":"x"}}}` + "\n", "exactly one"},
		{"after the end", startLine + `{"end":{"finished":null}}` + "\n" + caseLine, "after the run's end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.journal))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Read: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// A writer killed mid-line leaves a partial last line: the cases before it
// stand, the partial one is not a record.
func TestReadDropsAPartialLastLine(t *testing.T) {
	journal := `{"start":{"schema":"` + Schema + `","runID":"r","started":null,"strict":false,"planned":[{"name":"one"},{"name":"two"}]}}` + "\n" +
		`{"case":{"name":"one","outcome":"passed","started":null,"finished":null}}` + "\n" +
		`{"case":{"name":"two","outc`
	run, err := Read(strings.NewReader(journal))
	if err != nil {
		t.Fatal(err)
	}
	if !run.Truncated || len(run.Cases) != 1 {
		t.Errorf("truncated=%v cases=%d, want true and 1", run.Truncated, len(run.Cases))
	}
}

func TestReadIsBounded(t *testing.T) {
	huge := `{"start":{"schema":"` + Schema + `","runID":"` + strings.Repeat("r", MaxLine) + `","started":null,"strict":false,"planned":[]}}` + "\n"
	if _, err := Read(strings.NewReader(huge)); err == nil {
		t.Error("a line past MaxLine was read")
	}
}

func TestSealSaysWhyTheRunStopped(t *testing.T) {
	path := filepath.Join(t.TempDir(), JournalFile)
	j, err := Create(path, start())
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(Entry{Case: &Case{Name: "one", Outcome: Passed}}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	// Killed mid-write.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"case":{"name":"two","outco`)
	f.Close()
	run, err := Seal(path, "the suite was killed by signal 9 after 26 s", time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	if run.Truncated || run.End == nil || run.End.Interrupted != "the suite was killed by signal 9 after 26 s" || len(run.Cases) != 1 {
		t.Fatalf("sealed run: truncated=%v end=%+v cases=%d", run.Truncated, run.End, len(run.Cases))
	}
	// Sealing again changes nothing: the journal already ends.
	again, err := Seal(path, "other", time.Now(), false)
	if err != nil || again.End.Interrupted != run.End.Interrupted {
		t.Errorf("second seal: %v, %+v", err, again.End)
	}
	// The sealer knows what interrupted the run: it opens the reason.
	blamed, err := Seal(path, "the plugin was stopped after 30s", time.Now(), true)
	if err != nil || blamed.End.Interrupted != "the plugin was stopped after 30s: the suite was killed by signal 9 after 26 s" || len(blamed.Cases) != 1 {
		t.Errorf("blamed seal: %v, %+v", err, blamed.End)
	}
}

// A cell's placement is known only when both ends' nodes are.
func TestPlacementOf(t *testing.T) {
	placed := map[string]string{"x/a": "n1", "x/b": "n1", "y/a": "n2"}
	for _, tc := range []struct {
		from, to string
		want     Placement
		ok       bool
	}{
		{"x/a", "x/b", SameNode, true},
		{"x/a", "y/a", CrossNode, true},
		{"x/a", "z/a", "", false},
		{"kube-apiserver", "x/a", "", false},
	} {
		if got, ok := PlacementOf(placed, tc.from, tc.to); got != tc.want || ok != tc.ok {
			t.Errorf("PlacementOf(%s, %s) = %q, %v; want %q, %v", tc.from, tc.to, got, ok, tc.want, tc.ok)
		}
	}
	if n := NodeCount(placed); n != 2 {
		t.Errorf("NodeCount = %d, want 2", n)
	}
	if n := NodeCount(nil); n != 0 {
		t.Errorf("NodeCount(nil) = %d, want 0", n)
	}
}
