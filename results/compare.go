package results

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Row is one case across runs.
type Row struct {
	Case   string
	Family string
	// Cells holds the case in each run, nil where the run lacks it.
	Cells []*Case
	// Disagree is true when the runs that ran the case do not all give
	// the same verdict. A skip is no verdict: a run that skipped
	// everything (nothing enforced) would otherwise disagree everywhere.
	Disagree bool
}

// Matrix is cases by runs.
type Matrix struct {
	Runs []*Run
	Rows []Row
}

// Compare lines up runs case by case. family names each case's family
// (from the case table) for grouping; unknown cases go under "other".
// Rows where the runs disagree come first, then by family, each in the
// order the first run holding it reported it.
func Compare(runs []*Run, family func(caseName string) string) *Matrix {
	m := &Matrix{Runs: runs}
	seen := map[string]bool{}
	for _, r := range runs {
		for _, c := range r.Cases {
			if seen[c.Name] {
				continue
			}
			seen[c.Name] = true
			row := Row{Case: c.Name, Family: family(c.Name)}
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
		switch {
		case a.Disagree != b.Disagree:
			if a.Disagree {
				return -1
			}
			return 1
		default:
			return strings.Compare(a.Family, b.Family)
		}
	})
	return m
}

func disagree(cells []*Case) bool {
	var first Verdict
	for _, c := range cells {
		v := c.verdict()
		if v == Skipped {
			continue
		}
		if first == "" {
			first = v
		} else if v != first {
			return true
		}
	}
	return false
}

func (c *Case) verdict() Verdict {
	if c == nil {
		return "absent"
	}
	return c.Verdict
}

// Markdown renders the matrix for pull requests and issues: a summary
// line per run, the cases where runs disagree, then every case by family.
func (m *Matrix) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# NetworkPolicy conformance: %d runs compared\n\n", len(m.Runs))
	b.WriteString("| run | passed | failed | skipped | Kubernetes | suite | case set |\n|---|---|---|---|---|---|---|\n")
	for _, r := range m.Runs {
		n := r.Counts()
		digest := r.Properties["caseSetDigest"]
		if len(digest) > 19 {
			digest = digest[:19] // "sha256:" and 12 hex digits
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s | %s | %s |\n", r.Name, n[Pass], n[Fail], n[Skipped],
			orDash(r.Properties["kubernetesVersion"]), orDash(r.Properties["suiteVersion"]), orDash(digest))
	}
	var disagree, agree []Row
	for _, row := range m.Rows {
		if row.Disagree {
			disagree = append(disagree, row)
		} else {
			agree = append(agree, row)
		}
	}
	fmt.Fprintf(&b, "\n## Where the runs disagree (%d cases)\n\n", len(disagree))
	if len(disagree) == 0 {
		b.WriteString("Every case has the same verdict in every run.\n")
	} else {
		m.table(&b, disagree, true)
	}
	b.WriteString("\n## Every case, by family\n")
	family := ""
	var group []Row
	flush := func() {
		if len(group) > 0 {
			fmt.Fprintf(&b, "\n### %s\n\n", family)
			m.table(&b, group, false)
		}
		group = nil
	}
	rows := slices.Clone(m.Rows)
	slices.SortStableFunc(rows, func(a, b Row) int { return strings.Compare(a.Family, b.Family) })
	for _, row := range rows {
		if row.Family != family {
			flush()
			family = row.Family
		}
		group = append(group, row)
	}
	flush()
	return b.String()
}

func (m *Matrix) table(b *strings.Builder, rows []Row, withFamily bool) {
	b.WriteString("| case |")
	if withFamily {
		b.WriteString(" family |")
	}
	for _, r := range m.Runs {
		fmt.Fprintf(b, " %s |", r.Name)
	}
	b.WriteString("\n|---|")
	if withFamily {
		b.WriteString("---|")
	}
	b.WriteString(strings.Repeat("---|", len(m.Runs)) + "\n")
	for _, row := range rows {
		fmt.Fprintf(b, "| `%s` |", row.Case)
		if withFamily {
			fmt.Fprintf(b, " %s |", row.Family)
		}
		for _, c := range row.Cells {
			fmt.Fprintf(b, " %s |", cellText(c))
		}
		b.WriteString("\n")
	}
}

func cellText(c *Case) string {
	switch {
	case c == nil:
		return "—"
	case c.Verdict == Fail:
		return "**FAIL**"
	case c.Verdict == Skipped:
		return "skipped"
	case c.TimeToEnforce > 0:
		return fmt.Sprintf("pass %s", c.TimeToEnforce.Round(10*time.Millisecond))
	default:
		return "pass"
	}
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
