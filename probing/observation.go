package probing

import (
	"github.com/netpol-conformance/netpol-conformance/agent"
	"github.com/netpol-conformance/netpol-conformance/reachability"
)

// Observation is one probe pass as a cluster answered it: one table per
// key, and how denials looked (the implementation-defined denial mode).
type Observation struct {
	Tables []*reachability.Table
	// Refused and TimedOut count denied probes by how they were denied.
	Refused, TimedOut int
	// Errors holds the detail of every probe that could not run, by cell.
	Errors map[string]string
	// Flows counts the new flows sent; Leaked those answered among the
	// repeated flows of cells that must be denied (a confirming pass).
	Flows, Leaked int
}

// OutcomeOf maps an agent's probe outcome to a table cell: both denials
// are Blocked, and a probe that could not run is never read as one.
func OutcomeOf(o agent.Outcome) reachability.Outcome {
	switch o {
	case agent.Allowed:
		return reachability.Allowed
	case agent.DeniedRefused, agent.DeniedTimeout:
		return reachability.Blocked
	default:
		return reachability.ProbeError
	}
}
