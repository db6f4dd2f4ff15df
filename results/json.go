package results

import (
	"encoding/json"
	"io"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Schema versions of the JSON documents `compare -o json` and `diff -o
// json` write. A field is only ever added within a version.
const (
	ComparisonSchemaVersion = "netpol-conformance.compare/v1"
	DiffSchemaVersion       = "netpol-conformance.diff/v1"
)

// CaseJSON is one case of one run.
type CaseJSON struct {
	Name    string  `json:"name"`
	Verdict Verdict `json:"verdict"`
	// Failing says whether the verdict fails the run (strict runs fail
	// known deviations too).
	Failing       bool             `json:"failing"`
	Message       string           `json:"message,omitempty"`
	TimeToEnforce *metav1.Duration `json:"timeToEnforce,omitempty"`
	TimeToRemove  *metav1.Duration `json:"timeToRemove,omitempty"`
	OwnReadings   []string         `json:"ownReadings,omitempty"`
}

func caseJSON(r *Run, c *Case) *CaseJSON {
	if c == nil {
		return nil
	}
	return &CaseJSON{Name: c.Name, Verdict: c.Verdict, Failing: c.Verdict.Failing(r.Strict()), Message: c.Message,
		TimeToEnforce: duration(c.TimeToEnforce), TimeToRemove: duration(c.TimeToRemove), OwnReadings: c.OwnReadings}
}

func duration(d time.Duration) *metav1.Duration {
	if d <= 0 {
		return nil
	}
	return &metav1.Duration{Duration: d}
}

// RunJSON is one run's summary.
type RunJSON struct {
	Name   string `json:"name"`
	Source string `json:"source,omitempty"`
	// Metadata is the run's report.json (suite version, cluster, CNI).
	Metadata map[string]string `json:"metadata,omitempty"`
	Strict   bool              `json:"strict"`
	// Counts holds the number of cases per verdict.
	Counts map[Verdict]int `json:"counts"`
}

func runJSON(r *Run) RunJSON {
	return RunJSON{Name: r.Name, Source: r.Source, Metadata: r.Properties, Strict: r.Strict(), Counts: r.Counts()}
}

// ComparisonJSON is `compare -o json`: the runs, then every case across
// them in the Markdown's order (disagreements first).
type ComparisonJSON struct {
	SchemaVersion string    `json:"schemaVersion"`
	Runs          []RunJSON `json:"runs"`
	Cases         []RowJSON `json:"cases"`
}

// RowJSON is one case across runs: Runs[i] is the case in the i-th run,
// null where that run lacks it (not run).
type RowJSON struct {
	Name     string      `json:"name"`
	Family   string      `json:"family"`
	Tags     []string    `json:"tags,omitempty"`
	Disagree bool        `json:"disagree"`
	Runs     []*CaseJSON `json:"runs"`
}

// JSON writes the matrix as a ComparisonJSON document.
func (m *Matrix) JSON(w io.Writer) error {
	doc := ComparisonJSON{SchemaVersion: ComparisonSchemaVersion, Runs: []RunJSON{}, Cases: []RowJSON{}}
	for _, r := range m.Runs {
		doc.Runs = append(doc.Runs, runJSON(r))
	}
	for _, row := range m.Rows {
		rj := RowJSON{Name: row.Case, Family: row.Family, Tags: row.Tags, Disagree: row.Disagree}
		for i, c := range row.Cells {
			rj.Runs = append(rj.Runs, caseJSON(m.Runs[i], c))
		}
		doc.Cases = append(doc.Cases, rj)
	}
	return writeJSON(w, doc)
}

// DiffJSON is `diff -o json`.
type DiffJSON struct {
	SchemaVersion string  `json:"schemaVersion"`
	Old           RunJSON `json:"old"`
	New           RunJSON `json:"new"`
	// Regressed is what the exit code says: 1 when true.
	Regressed   bool         `json:"regressed"`
	NewFailures []ChangeJSON `json:"newFailures"`
	Fixed       []ChangeJSON `json:"fixed"`
	Stopped     []ChangeJSON `json:"stopped"`
	Changed     []ChangeJSON `json:"changed"`
	Slower      []ChangeJSON `json:"slower"`
	Faster      []ChangeJSON `json:"faster"`
	// Gone are in the old run only, Added in the new one only.
	Gone  []string `json:"gone"`
	Added []string `json:"added"`
}

// ChangeJSON is one case in both runs.
type ChangeJSON struct {
	Case string    `json:"case"`
	Old  *CaseJSON `json:"old"`
	New  *CaseJSON `json:"new"`
}

// JSON writes the difference of old and new as a DiffJSON document.
func (d Difference) JSON(w io.Writer, old, new *Run) error {
	changes := func(cs []Change) []ChangeJSON {
		out := []ChangeJSON{}
		for _, c := range cs {
			out = append(out, ChangeJSON{Case: c.Case, Old: caseJSON(old, c.Old), New: caseJSON(new, c.New)})
		}
		return out
	}
	names := func(ns []string) []string {
		if ns == nil {
			return []string{}
		}
		return ns
	}
	return writeJSON(w, DiffJSON{
		SchemaVersion: DiffSchemaVersion, Old: runJSON(old), New: runJSON(new), Regressed: d.Regressed(),
		NewFailures: changes(d.NewFailures), Fixed: changes(d.Fixed), Stopped: changes(d.Stopped), Changed: changes(d.Changed),
		Slower: changes(d.Slower), Faster: changes(d.Faster), Gone: names(d.Gone), Added: names(d.Added),
	})
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
