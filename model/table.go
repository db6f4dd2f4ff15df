package model

import (
	"fmt"

	"github.com/netpol-conformance/netpol-conformance/reachability"
)

// Table evaluates every (from, to) pair of keys for one port and protocol.
// Cells the spec does not settle are marked ImplementationDefined.
func (m *Model) Table(key reachability.Key, keys []string, established bool) (*reachability.Table, error) {
	t := reachability.New(key, keys, keys)
	for i, from := range keys {
		for j, to := range keys {
			v, err := m.Evaluate(Traffic{From: from, To: to, Port: key.Port, Protocol: key.Protocol, Established: established})
			if err != nil {
				return nil, fmt.Errorf("table %s: %w", key, err)
			}
			t.SetAt(i, j, reachability.Cell{Outcome: reachability.OutcomeFor(v.Allowed), ImplementationDefined: !v.Defined()})
		}
	}
	return t, nil
}
