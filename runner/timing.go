package runner

import "time"

// Timing holds every wait of a run, in one place. The suite's flags set
// the first four; the rest are fixed choices, each explained.
type Timing struct {
	// Convergence bounds how long a change may take to be enforced
	// (--netpol.convergence-timeout): a stage that does not match the model
	// within it departs from the spec.
	Convergence time.Duration
	// Probe bounds one probe (--netpol.probe-timeout): a flow unanswered
	// by then is denied. It never goes below agent.MinTimeout.
	Probe time.Duration
	// PodStart bounds how long the topology's pods may take to be ready
	// (--netpol.pod-start-timeout).
	PodStart time.Duration
	// API bounds every request to the API server, so a server that
	// accepts connections and never answers fails the run instead of
	// hanging it.
	API time.Duration
	// Interval is the pause between probe passes that do not match yet.
	Interval time.Duration
	// EnforcementPoll is the pause between probes of the enforcement
	// check, which watches one cell until a default deny shows.
	EnforcementPoll time.Duration
	// Settle is the least time a stage that changes nothing (its tables
	// equal those before it) keeps being probed: its first pass matches
	// before the enforcer acted, so a match proves nothing until the
	// enforcer had time to act. The wait is twice what the enforcement
	// check measured, and at least Settle.
	Settle time.Duration
}

// DefaultTiming is what the suite runs with unless its flags say
// otherwise.
func DefaultTiming() Timing {
	return Timing{
		Convergence:     20 * time.Second,
		Probe:           time.Second,
		PodStart:        3 * time.Minute,
		API:             30 * time.Second,
		Interval:        250 * time.Millisecond,
		EnforcementPoll: 200 * time.Millisecond,
		Settle:          2 * time.Second,
	}
}

// settle is how long a stage that changes nothing keeps being probed.
func (t Timing) settle(enforcedIn time.Duration) time.Duration {
	return max(2*enforcedIn, t.Settle)
}
