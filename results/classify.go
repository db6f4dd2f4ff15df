package results

import (
	"fmt"
	"strings"

	"github.com/onsi/ginkgo/v2/reporters"

	"github.com/netpol-conformance/netpol-conformance/cni"
	"github.com/netpol-conformance/netpol-conformance/profiles"
)

// Verdict classes of one case in one run. The raw outcome (the case
// passed, failed or was skipped) is read against the CNI's profile of
// known deviations.
type Verdict string

const (
	// Pass: the cluster did what the spec says.
	Pass Verdict = "pass"
	// Fail: the cluster departed from the spec and nothing predicts it,
	// a regression for this CNI. Only this class fails a run (and known
	// deviations, under --strict).
	Fail Verdict = "fail"
	// KnownDeviation: the case failed as the CNI's profile predicts.
	KnownDeviation Verdict = "known-deviation"
	// Fixed: the profile predicts a deviation that did not happen; the
	// profile wants updating.
	Fixed Verdict = "fixed"
	// ImplementationDefined: the cluster took its own reading where the
	// spec leaves the answer open. Reported, never failed.
	ImplementationDefined Verdict = "implementation-defined"
	// Skipped: the case did not run by design, with the reason.
	Skipped Verdict = "skipped"
	// NotRun: the run planned the case but ended (killed, timed out,
	// crashed, lost the cluster) before the case had a result. A failure:
	// nothing was observed.
	NotRun Verdict = "not-run"
)

// Verdicts lists the classes in the order reports show them.
var Verdicts = []Verdict{Pass, Fail, NotRun, KnownDeviation, Fixed, ImplementationDefined, Skipped}

// Failing reports whether the class fails a run.
func (v Verdict) Failing(strict bool) bool {
	return v == Fail || v == NotRun || strict && v == KnownDeviation
}

func isVerdict(s string) bool {
	for _, v := range Verdicts {
		if string(v) == s {
			return true
		}
	}
	return false
}

// Classify gives a case its class from its raw outcome (Pass, Fail or
// Skipped), whether the cluster took readings of its own on cells the spec
// leaves open, and the deviation the CNI's profile predicts (nil if none).
func Classify(raw Verdict, ownReadings bool, predicted *profiles.Deviation) Verdict {
	switch {
	case raw == Skipped:
		return Skipped
	case raw == Fail && predicted == nil:
		return Fail
	case raw == Fail && predicted.Class == profiles.ImplementationDefined:
		return ImplementationDefined
	case raw == Fail:
		return KnownDeviation
	case predicted != nil:
		return Fixed
	case ownReadings:
		return ImplementationDefined
	}
	return Pass
}

// DepartureHeader opens the failure message of a case whose only problem is
// that the cluster did not do what the spec says: the one kind of failure
// a profile may explain. A timeout, an interrupt, a panic or an API error
// is never a known deviation.
const DepartureHeader = "The cluster departs from the NetworkPolicy spec:"

// departed reports whether a testcase failed by departing from the spec.
func departed(tc *reporters.JUnitTestCase) bool {
	return tc.Error == nil && tc.Failure != nil && tc.Failure.Type == "failed" &&
		strings.HasPrefix(tc.Failure.Message, DepartureHeader)
}

// implementationDefinedEntry is how the suite reports a cell where the
// cluster took its own reading of what the spec leaves open.
const implementationDefinedEntry = "implementation-defined - "

// classifyReport sets the class of every testcase of a JUnit report as its
// status and, so that a nightly job fails only on regressions, turns a
// known deviation's or an implementation-defined reading's failure into a
// skip whose message says what the profile knows (unless strict keeps
// known deviations failing). Suite counts are recomputed.
func classifyReport(doc *reporters.JUnitTestSuites, detected cni.Detection, set profiles.Set, strict bool) map[Verdict]int {
	counts := map[Verdict]int{}
	for si := range doc.TestSuites {
		s := &doc.TestSuites[si]
		s.Failures, s.Errors, s.Skipped = 0, 0, 0
		for ti := range s.TestCases {
			tc := &s.TestCases[ti]
			if name, ok := caseName(tc.Name); ok {
				counts[classifyCase(tc, name, detected, set, strict)]++
			}
			switch {
			case tc.Failure != nil:
				s.Failures++
			case tc.Error != nil:
				s.Errors++
			case tc.Skipped != nil:
				s.Skipped++
			}
		}
	}
	// Ginkgo counts skipped and pending specs as disabled at the top.
	doc.Failures, doc.Errors, doc.Disabled = 0, 0, 0
	for _, s := range doc.TestSuites {
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Disabled += s.Disabled + s.Skipped
	}
	return counts
}

func classifyCase(tc *reporters.JUnitTestCase, name string, detected cni.Detection, set profiles.Set, strict bool) Verdict {
	raw := Pass
	switch {
	case tc.Failure != nil || tc.Error != nil:
		raw = Fail
	case tc.Skipped != nil:
		raw = Skipped
	}
	predicted := set.Lookup(detected.Name, detected.Version, name)
	switch {
	case raw == Fail && !departed(tc):
		// Failed for another reason than the cluster's behaviour: no
		// profile explains that.
		predicted = nil
	case raw == Pass && predicted != nil && detected.Version == "" && predicted.Versions.FixedIn != "":
		// Passing where a deviation is known up to some release, on a
		// version nobody knows: most likely a fixed release, not news.
		predicted = nil
	}
	class := Classify(raw, strings.Contains(tc.SystemErr, implementationDefinedEntry), predicted)
	tc.Status = string(class)
	source := ""
	if p := set.Profile(detected.Name); p != nil {
		source = "profiles/" + p.Source
	}
	switch {
	case class == Fixed:
		tc.SystemOut = fmt.Sprintf("FIXED: %s is expected to deviate here (%s), but the case passed.\nIf the fix is real, set versions.fixedIn of this case in %s.\n%s",
			detected, predicted.Link, source, tc.SystemOut)
	case predicted != nil && raw == Fail && !(class == KnownDeviation && strict):
		failure := failureText(tc)
		tc.Failure, tc.Error = nil, nil
		tc.Skipped = &reporters.JUnitSkipped{Message: fmt.Sprintf("%s of %s (%s, %s): %s See %s",
			class, detected, source, predicted.Versions, strings.TrimSpace(predicted.Behaviour), predicted.Link)}
		tc.SystemOut = "The case failed as the profile predicts:\n" + failure + "\n" + tc.SystemOut
	}
	return class
}

func failureText(tc *reporters.JUnitTestCase) string {
	if tc.Failure != nil {
		return firstNonEmpty(tc.Failure.Message, tc.Failure.Description)
	}
	if tc.Error != nil {
		return firstNonEmpty(tc.Error.Message, tc.Error.Description)
	}
	return ""
}
