package results

import (
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
	// Skipped: the case did not run by design, or could not be observed in
	// full on this cluster (never a pass), with the reason.
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

// implementationDefinedEntry is how the suite reports a cell where the
// cluster took its own reading of what the spec leaves open.
const implementationDefinedEntry = "implementation-defined - "
