package results

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/netpol-conformance/netpol-conformance/record"
)

// CaseInfo is what the case table says about a case, for grouping and
// filtering rows and for showing what the spec requires.
type CaseInfo struct {
	Family string
	Tags   []string
	// Expected holds the case's truth tables as the model computes them.
	Expected string
}

// Row is one case across runs.
type Row struct {
	Case string
	CaseInfo
	// Cells holds the case in each run, nil where the run lacks it.
	Cells []*Case
	// Disagree is true when the runs that ran the case do not all read the
	// spec the same way: one conforms where another departs from it.
	Disagree bool
}

// Matrix is cases by runs.
type Matrix struct {
	Runs []*Run
	Rows []Row
}

// Compare lines up runs case by case. info looks cases up in the case
// table; unknown cases go under family "other". Rows where the runs
// disagree come first, then by family, each in the order the first run
// holding it reported it.
func Compare(runs []*Run, info func(caseName string) CaseInfo) *Matrix {
	m := &Matrix{Runs: runs}
	seen := map[string]bool{}
	for _, r := range runs {
		for _, c := range r.Cases {
			if seen[c.Name] {
				continue
			}
			seen[c.Name] = true
			row := Row{Case: c.Name, CaseInfo: info(c.Name)}
			if row.Family == "" {
				row.Family = "other"
			}
			for _, other := range runs {
				row.Cells = append(row.Cells, other.Case(c.Name))
			}
			row.Disagree = disagree(row.Cells)
			m.Rows = append(m.Rows, row)
		}
	}
	slices.SortStableFunc(m.Rows, func(a, b Row) int {
		if a.Disagree != b.Disagree {
			if a.Disagree {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Family, b.Family)
	})
	return m
}

// reading is how a verdict stands to the spec, whatever any profile says:
// the runs disagree when one conforms and another departs.
func (v Verdict) reading() string {
	switch v {
	case Pass, Fixed:
		return "conforms"
	case Fail, KnownDeviation:
		return "departs"
	case ImplementationDefined:
		return "own reading"
	}
	return "" // skipped or absent: no verdict to disagree with
}

func disagree(cells []*Case) bool {
	first := ""
	for _, c := range cells {
		if c == nil {
			continue
		}
		r := c.Verdict.reading()
		if r == "" {
			continue
		}
		if first == "" {
			first = r
		} else if r != first {
			return true
		}
	}
	return false
}

// Label names a run's column: the run's name and, when the report says,
// the CNI it ran against.
func (r *Run) Label() string {
	cni := r.CNI()
	switch {
	case cni == "" || cni == r.Name:
		return r.Name
	case strings.HasPrefix(cni, r.Name+" "): // a run named after its CNI
		return cni
	}
	return r.Name + " (" + cni + ")"
}

// CNI is the enforcer the report names, with its version, or "".
func (r *Run) CNI() string {
	name, version := r.Properties["cni"], r.Properties["cniVersion"]
	if version != "" {
		return name + " " + version
	}
	return name
}

// Nodes says how many nodes the run's cluster had and how many its pods
// ran on, "2, pods on 2"; "—" when the report does not say.
func (r *Run) Nodes() string {
	nodes, pods := r.Properties["nodes"], r.Properties["podNodes"]
	switch {
	case nodes == "" || nodes == "0":
		return "—"
	case pods == "" || pods == "0":
		return nodes
	}
	return nodes + ", pods on " + pods
}

// CrossNodeUncovered reports whether the run's pods all ran on one node,
// so that no cross-node path was probed: as recorded, or, for a report
// from before pods' nodes were recorded, because its cluster had one.
func (r *Run) CrossNodeUncovered() bool {
	switch r.Properties["podNodes"] {
	case "1":
		return true
	case "", "0":
		return r.Properties["nodes"] == "1"
	}
	return false
}

// Uncovered names the runs that probed no cross-node path.
func (m *Matrix) Uncovered() []string {
	var names []string
	for _, r := range m.Runs {
		if r.CrossNodeUncovered() {
			names = append(names, r.Name)
		}
	}
	return names
}

// Enforcement summarises a run's times to enforce.
type Enforcement struct {
	Median, Max time.Duration
	Cases       int
}

// Enforcement returns the median and maximum time to enforce over the
// run's cases that report one.
func (r *Run) Enforcement() Enforcement {
	return summarise(r.Cases, func(c Case) time.Duration { return c.TimeToEnforce })
}

// Removal returns the median and maximum time a removal of policies took
// to be enforced: the resets between cases.
func (r *Run) Removal() Enforcement {
	return summarise(r.Cases, func(c Case) time.Duration { return c.TimeToRemove })
}

func summarise(cases []Case, measure func(Case) time.Duration) Enforcement {
	var ds []time.Duration
	for _, c := range cases {
		if d := measure(c); d > 0 {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		return Enforcement{}
	}
	slices.Sort(ds)
	return Enforcement{Median: ds[len(ds)/2], Max: ds[len(ds)-1], Cases: len(ds)}
}

func (e Enforcement) String() string {
	if e.Cases == 0 {
		return "—"
	}
	return fmt.Sprintf("%s / %s", e.Median.Round(10*time.Millisecond), e.Max.Round(10*time.Millisecond))
}

// Disagreeing returns the rows where the runs disagree.
func (m *Matrix) Disagreeing() []Row {
	var rows []Row
	for _, row := range m.Rows {
		if row.Disagree {
			rows = append(rows, row)
		}
	}
	return rows
}

// ByFamily returns every row, grouped by family in name order.
func (m *Matrix) ByFamily() []Row {
	rows := slices.Clone(m.Rows)
	slices.SortStableFunc(rows, func(a, b Row) int { return strings.Compare(a.Family, b.Family) })
	return rows
}

// Markdown renders the matrix for pull requests and issues: a summary
// line per run, the cases where runs disagree, then every case by family.
func (m *Matrix) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# NetworkPolicy conformance: %d runs compared\n\n", len(m.Runs))
	if names := m.Uncovered(); len(names) > 0 {
		fmt.Fprintf(&b, "**Cross-node paths were not covered** by %s: %s.\n\n", md(strings.Join(names, ", ")), record.CrossNodeUncovered)
	}
	b.WriteString("| run | CNI | Kubernetes | nodes | pass | known deviations | implementation-defined | regressions | not run | fixed | skipped | time to enforce, median / max | policy removal, median / max | suite | case set |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range m.Runs {
		n := r.Counts()
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %d | %d | %d | %d | %d | %d | %s | %s | %s | %s |\n", md(r.Name), md(orDash(r.CNI())),
			md(orDash(r.Properties["kubernetesVersion"])), r.Nodes(), n[Pass], n[KnownDeviation], n[ImplementationDefined], n[Fail], n[NotRun], n[Fixed], n[Skipped],
			r.Enforcement(), r.Removal(), md(orDash(r.Properties["suiteVersion"])), md(orDash(shortDigest(r.Properties["caseSetDigest"]))))
	}
	b.WriteString("\nVerdicts: `pass`; `FAIL` departs from the spec and the CNI's profile does not predict it (a regression); " +
		"`known deviation` departs as the profile predicts; `fixed` passes where the profile predicts a deviation (update the profile); " +
		"`implementation-defined` is the cluster's own reading where the spec leaves the answer open; `not run`: the run ended (killed, timed out) before the case, or does not hold it, a failure; `skipped` did not run by design. " +
		"Times are the longest time to enforce of the case's stages, measured to the end of the first probe pass that matches the model; " +
		"policy removal is the reset that ends each case (every policy of the case deleted, labels restored) until no policy is enforced.\n")
	disagreeing := m.Disagreeing()
	fmt.Fprintf(&b, "\n## Where the runs disagree (%d cases)\n\n", len(disagreeing))
	if len(disagreeing) == 0 {
		b.WriteString("Every case has the same reading of the spec in every run.\n")
	} else {
		m.markdownTable(&b, disagreeing, true)
	}
	b.WriteString("\n## Every case, by family\n")
	rows := m.ByFamily()
	for start := 0; start < len(rows); {
		end := start
		for end < len(rows) && rows[end].Family == rows[start].Family {
			end++
		}
		fmt.Fprintf(&b, "\n### %s\n\n", rows[start].Family)
		m.markdownTable(&b, rows[start:end], false)
		start = end
	}
	return b.String()
}

func (m *Matrix) markdownTable(b *strings.Builder, rows []Row, withFamily bool) {
	b.WriteString("| case |")
	if withFamily {
		b.WriteString(" family |")
	}
	for _, r := range m.Runs {
		fmt.Fprintf(b, " %s |", md(r.Name))
	}
	b.WriteString("\n|---|")
	if withFamily {
		b.WriteString("---|")
	}
	b.WriteString(strings.Repeat("---|", len(m.Runs)) + "\n")
	for _, row := range rows {
		fmt.Fprintf(b, "| `%s` |", strings.ReplaceAll(md(row.Case), "`", "'"))
		if withFamily {
			fmt.Fprintf(b, " %s |", md(row.Family))
		}
		for _, c := range row.Cells {
			text := cellText(c)
			if c == nil || c.Verdict.Failing(false) {
				text = "**" + text + "**"
			}
			fmt.Fprintf(b, " %s |", text)
		}
		b.WriteString("\n")
	}
}

// cellText is a cell's verdict and, where the case reports one, its time
// to enforce.
func cellText(c *Case) string {
	if c == nil {
		return "NOT RUN"
	}
	text := string(c.Verdict)
	switch c.Verdict {
	case Fail:
		text = "FAIL"
	case NotRun:
		text = "NOT RUN"
	case KnownDeviation:
		text = "known deviation"
	}
	if c.TimeToEnforce > 0 && c.Verdict != Skipped {
		text += " " + c.TimeToEnforce.Round(10*time.Millisecond).String()
	}
	return text
}

// md makes text from a report safe inside a Markdown table cell: names and
// versions come from files anyone can write, and a newline or a pipe would
// add rows or columns of their own.
func md(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ", "|", "\\|", "<", "&lt;", ">", "&gt;").Replace(s)
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19] // "sha256:" and 12 hex digits
	}
	return d
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
