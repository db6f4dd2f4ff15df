package probing

import "math"

// The statistics the suite states: a denied cell is confirmed with enough
// independent new flows that an enforcer letting a share Leak of new
// connections through is caught with probability at least Detect.
const (
	Leak   = 0.10
	Detect = 0.99
)

// ConfirmFlows is how many independent new flows the confirming pass
// sends to every cell that must be denied: FlowsFor(Leak, Detect) = 44.
var ConfirmFlows = FlowsFor(Leak, Detect)

// FlowsFor is the smallest n with 1 - (1-leak)^n >= detect: each flow
// leaks independently with probability leak, and one leaked flow is
// enough to see the cell is not denied.
func FlowsFor(leak, detect float64) int {
	if leak <= 0 || leak >= 1 || detect <= 0 || detect >= 1 {
		return 1
	}
	return int(math.Ceil(math.Log(1-detect) / math.Log(1-leak)))
}

// DetectionProbability is the chance that n flows catch a cell leaking
// a share leak of new flows.
func DetectionProbability(leak float64, n int) float64 {
	return 1 - math.Pow(1-leak, float64(n))
}
