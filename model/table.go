package model

import (
	"fmt"

	"github.com/netpol-conformance/netpol-conformance/reachability"
)

// Table evaluates every (from, to) pair of keys for one port and protocol.
// Cells the spec does not settle are marked ImplementationDefined.
func (m *Model) Table(key reachability.Key, keys []string, established bool) (*reachability.Table, error) {
	return m.TableOf(key, keys, keys, established)
}

// TableOf is Table with rows from and columns to: the sources that are not
// destinations (nodes, whose probers listen on nothing) are rows only.
func (m *Model) TableOf(key reachability.Key, from, to []string, established bool) (*reachability.Table, error) {
	t := reachability.New(key, from, to)
	for i, f := range from {
		for j, d := range to {
			v, err := m.Evaluate(Traffic{From: f, To: d, Port: key.Port, Protocol: key.Protocol, Established: established})
			if err != nil {
				return nil, fmt.Errorf("table %s: %w", key, err)
			}
			t.SetAt(i, j, reachability.Cell{Outcome: reachability.OutcomeFor(v.Allowed), ImplementationDefined: !v.Defined()})
		}
	}
	return t, nil
}
