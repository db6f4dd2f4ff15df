package results

import (
	"fmt"
	"html/template"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/netpol-conformance/netpol-conformance/record"
)

// Why is what a departing cell shows next to its verdict: the profile's
// words and its upstream link for a deviation the profile knows, the first
// wrong cell and the model's reason for a failure.
type Why struct {
	// Text is short enough for a matrix cell; Full is the title.
	Text, Full string
	Link       string
}

var upstreamLink = regexp.MustCompile(`https?://[^\s"<>]+`)

// whyOf is the cell's Why, or nil for a verdict that needs none.
func whyOf(c *Case) *Why {
	if c == nil {
		return nil
	}
	var w Why
	switch c.Verdict {
	case KnownDeviation, Fixed:
		msg := record.Summary(c.Message)
		// "known-deviation of cilium v1.20.2 (profiles/cilium.yaml, …): what it does. See URL"
		if i := strings.Index(msg, "): "); i >= 0 && strings.Contains(msg[:i], "profiles/") {
			msg = msg[i+3:]
		}
		w.Link = upstreamLink.FindString(msg)
		w.Full = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(strings.Replace(msg, w.Link, "", 1)), "See"))
	case Fail, NotRun:
		w.Full = record.Summary(c.Message)
		if cell := firstWrongCell(c.Detail); cell != "" {
			w.Full += " — " + cell
		}
	case ImplementationDefined:
		if len(c.OwnReadings) > 0 {
			w.Full = c.OwnReadings[0]
		}
	default:
		return nil
	}
	if w.Full == "" && w.Link == "" {
		return nil
	}
	w.Text = w.Full
	if r := []rune(w.Text); len(r) > 140 {
		w.Text = string(r[:137]) + "…"
	}
	return &w
}

// firstWrongCell is the first wrong cell of a failure's detail with the
// first line of the model's explanation of it: "WRONG y/b -> x/a 80/TCP:
// expected blocked, observed allowed; ingress at x/a: isolated by x/deny".
func firstWrongCell(detail string) string {
	lines := strings.Split(detail, "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "WRONG ") {
			continue
		}
		out := strings.TrimPrefix(l, "WRONG ")
		// The explanation: the verdict line, then one line per side; the
		// side that decided is the one that is not "allowed".
		for _, e := range lines[i+1 : min(i+4, len(lines))] {
			e = strings.TrimSpace(e)
			if strings.HasPrefix(e, "egress at") || strings.HasPrefix(e, "ingress at") {
				if !strings.Contains(e, ": allowed") {
					return out + "; " + e
				}
			}
		}
		return out
	}
	return ""
}

// RollUp is the verdicts of one family in one run.
type RollUp struct {
	Counts map[Verdict]int
	// Worst is the verdict that colours the cell: a failure over a known
	// deviation over a fix over an own reading over a pass.
	Worst Verdict
}

// FamilyRow is one family across runs.
type FamilyRow struct {
	Family string
	Runs   []RollUp
}

// rollUpOrder ranks verdicts for a roll-up's colour, worst first.
var rollUpOrder = []Verdict{Fail, NotRun, KnownDeviation, Fixed, ImplementationDefined, Pass, Skipped}

// Families is the family × run roll-up, families in name order.
func (m *Matrix) Families() []FamilyRow {
	byFamily := map[string]*FamilyRow{}
	var names []string
	for _, row := range m.Rows {
		fr := byFamily[row.Family]
		if fr == nil {
			fr = &FamilyRow{Family: row.Family, Runs: make([]RollUp, len(m.Runs))}
			for i := range fr.Runs {
				fr.Runs[i].Counts = map[Verdict]int{}
			}
			byFamily[row.Family] = fr
			names = append(names, row.Family)
		}
		for i, c := range row.Cells {
			v := NotRun
			if c != nil {
				v = c.Verdict
			}
			fr.Runs[i].Counts[v]++
		}
	}
	slices.Sort(names)
	var out []FamilyRow
	for _, n := range names {
		fr := byFamily[n]
		for i := range fr.Runs {
			for _, v := range rollUpOrder {
				if fr.Runs[i].Counts[v] > 0 {
					fr.Runs[i].Worst = v
					break
				}
			}
		}
		out = append(out, *fr)
	}
	return out
}

// rollUpText is a roll-up cell: the count of each verdict present.
func rollUpText(r RollUp) string {
	var parts []string
	for _, v := range rollUpOrder {
		if n := r.Counts[v]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, cellText(&Case{Verdict: v})))
		}
	}
	return strings.Join(parts, " · ")
}

// Chart geometry, in SVG user units (the SVG scales to its container).
const (
	chartLabel  = 230
	chartPlot   = 560
	chartRow    = 30
	chartMargin = 24
)

// EnforcementChart is an inline SVG of each run's times to enforce: one
// dot per case on a shared axis, the median marked, so a CNI that takes
// twice as long as the others shows at a glance. Runs without times get a
// row that says so.
func (m *Matrix) EnforcementChart() template.HTML {
	var top time.Duration
	for _, r := range m.Runs {
		for _, c := range r.Cases {
			top = max(top, c.TimeToEnforce)
		}
	}
	if top == 0 {
		return ""
	}
	axis := time.Duration(int64(top+time.Second-1) / int64(time.Second) * int64(time.Second)) // whole seconds
	x := func(d time.Duration) float64 { return chartLabel + float64(chartPlot)*float64(d)/float64(axis) }
	height := chartMargin + chartRow*len(m.Runs) + chartMargin
	var b strings.Builder
	fmt.Fprintf(&b, `<svg role="img" aria-label="time to enforce per run" viewBox="0 0 %d %d" width="100%%" style="max-width:%dpx">`,
		chartLabel+chartPlot+20, height, chartLabel+chartPlot+20)
	for s := time.Duration(0); s <= axis; s += time.Second {
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/><text class="tick" x="%.1f" y="%d">%ds</text>`,
			x(s), chartMargin-6, x(s), height-chartMargin+4, x(s), height-6, int(s/time.Second))
	}
	for i, r := range m.Runs {
		y := chartMargin + chartRow*i + chartRow/2
		e := r.Enforcement()
		fmt.Fprintf(&b, `<g class="run" data-run="%s"><text class="label" x="%d" y="%d">%s</text>`,
			template.HTMLEscapeString(r.Name), chartLabel-8, y+4, template.HTMLEscapeString(r.Label()))
		if e.Cases == 0 {
			fmt.Fprintf(&b, `<text class="none" x="%d" y="%d">no times to enforce in this report</text></g>`, chartLabel+4, y+4)
			continue
		}
		for _, c := range r.Cases {
			if c.TimeToEnforce > 0 {
				fmt.Fprintf(&b, `<circle class="dot v-%s" cx="%.1f" cy="%d" r="3.5"><title>%s: %s</title></circle>`,
					c.Verdict, x(c.TimeToEnforce), y, template.HTMLEscapeString(c.Name), c.TimeToEnforce.Round(10*time.Millisecond))
			}
		}
		fmt.Fprintf(&b, `<line class="median" x1="%.1f" y1="%d" x2="%.1f" y2="%d"><title>median %s</title></line>`,
			x(e.Median), y-10, x(e.Median), y+10, e.Median.Round(10*time.Millisecond))
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	// Every name and label above is escaped; the rest is our own markup.
	return template.HTML(b.String())
}
