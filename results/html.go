package results

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/netpol-conformance/netpol-conformance/record"
)

//go:embed compare.html.tmpl
var compareHTML string

var compareTemplate = template.Must(template.New("compare").Funcs(template.FuncMap{
	"anchor":     anchor,
	"cellText":   cellText,
	"cellClass":  func(c *Case) string { return "v-" + string(c.Verdict) },
	"sortKey":    sortKey,
	"join":       strings.Join,
	"counts":     func(r *Run) map[Verdict]int { return r.Counts() },
	"hasDetail":  func(c *Case) bool { return c != nil && (c.Detail != "" || c.Message != "" || len(c.OwnReadings) > 0) },
	"short":      shortDigest,
	"why":        whyOf,
	"rollUpText": rollUpText,
}).Parse(compareHTML))

var notAnchor = regexp.MustCompile(`[^a-z0-9-]+`)

// anchor makes an HTML id from its parts.
func anchor(parts ...any) string {
	var s []string
	for _, p := range parts {
		s = append(s, notAnchor.ReplaceAllString(strings.ToLower(fmt.Sprint(p)), "-"))
	}
	return strings.Join(s, "--")
}

// sortKey orders cells: regressions first, then known deviations, fixed,
// own readings, passes, skips, absent; by time to enforce within a class.
func sortKey(c *Case) string {
	if c == nil {
		return "9"
	}
	rank := map[Verdict]int{Fail: 0, KnownDeviation: 1, Fixed: 2, ImplementationDefined: 3, Pass: 4, Skipped: 5}[c.Verdict]
	return fmt.Sprintf("%d%012d", rank, c.TimeToEnforce.Microseconds())
}

type htmlPage struct {
	*Matrix
	Title    string
	Tags     []string
	Verdicts []Verdict
	// CrossNodeUncovered is record.CrossNodeUncovered, for the banner.
	CrossNodeUncovered string
}

// HTML writes the matrix as one self-contained page (no external script,
// style or font): a summary per run, the matrix with the disagreeing cases
// first, sortable by any column and filterable by tag, each cell linking to
// what the run observed (its truth-table diff) and each case to the truth
// tables the spec requires.
func (m *Matrix) HTML(w io.Writer, title string) error {
	var tags []string
	for _, row := range m.Rows {
		for _, t := range row.Tags {
			if !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
	}
	slices.Sort(tags)
	return compareTemplate.Execute(w, htmlPage{Matrix: m, Title: title, Tags: tags, Verdicts: Verdicts, CrossNodeUncovered: record.CrossNodeUncovered})
}
