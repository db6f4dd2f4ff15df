package cases

import (
	"testing"

	"github.com/netpol-conformance/netpol-conformance/reachability"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

// BenchmarkAllTables measures what the suite and `expect` pay to know the
// right answer for the whole table: every stage of every case, 9x9 pairs,
// 2 ports x 3 protocols, models built from scratch each time.
func BenchmarkAllTables(b *testing.B) {
	set, err := Builtin()
	if err != nil {
		b.Fatal(err)
	}
	topo := topology.Standard()
	matrix := topo.MatrixKeys()
	var keys []reachability.Key
	for _, proto := range topology.StandardProtocols {
		for _, port := range topology.StandardPorts {
			keys = append(keys, reachability.Key{Port: port, Protocol: proto})
		}
	}
	cells := 0
	b.ReportAllocs()
	for b.Loop() {
		cells = 0
		for _, c := range set.Cases() {
			stages, err := c.Stages(topo)
			if err != nil {
				b.Fatal(err)
			}
			for _, s := range stages {
				m, err := s.Model()
				if err != nil {
					b.Fatal(err)
				}
				for _, k := range keys {
					if _, err := m.Table(k, matrix, false); err != nil {
						b.Fatal(err)
					}
					cells += len(matrix) * len(matrix)
				}
			}
		}
	}
	b.ReportMetric(float64(cells), "cells/op")
}
