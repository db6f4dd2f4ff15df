package results

import (
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/onsi/ginkgo/v2/reporters"
)

// JUnit writes the matrix for CI: one test suite per run, named after the
// run (not its CNI version, so CI history joins across upgrades), one
// testcase per case named as the suite names it. A case fails only on a regression
// (and on a known deviation when strict); known deviations and
// implementation-defined readings are skipped with what the profile says.
func (m *Matrix) JUnit(w io.Writer, strict bool) error {
	doc := reporters.JUnitTestSuites{}
	for _, r := range m.Runs {
		s := reporters.JUnitTestSuite{Name: r.Name, Package: r.Source}
		for k, v := range r.Properties {
			s.Properties.Properties = append(s.Properties.Properties, reporters.JUnitProperty{Name: metadataPrefix + k, Value: v})
		}
		slices.SortFunc(s.Properties.Properties, func(a, b reporters.JUnitProperty) int { return strings.Compare(a.Name, b.Name) })
		for _, c := range r.Cases {
			tc := reporters.JUnitTestCase{Name: "NetworkPolicy " + c.Name, Classname: r.Name, Status: string(c.Verdict)}
			if c.TimeToEnforce > 0 {
				tc.SystemOut = "time to enforce: " + c.TimeToEnforce.String()
			}
			switch {
			case c.Verdict.Failing(strict):
				tc.Failure = &reporters.JUnitFailure{Type: string(c.Verdict), Message: c.Message, Description: c.Detail}
				s.Failures++
			case c.Verdict == Skipped || c.Verdict == KnownDeviation || c.Verdict == ImplementationDefined:
				tc.Skipped = &reporters.JUnitSkipped{Message: fmt.Sprintf("%s: %s", c.Verdict, c.Message)}
				s.Skipped++
			}
			s.TestCases = append(s.TestCases, tc)
			s.Tests++
		}
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.TestSuites = append(doc.TestSuites, s)
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the comparison as JUnit: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s%s\n", xml.Header, out)
	return err
}
