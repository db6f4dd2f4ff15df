package cases

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/netpol-conformance/netpol-conformance/model"
	"github.com/netpol-conformance/netpol-conformance/reachability"
)

// CheckPinned compares every table and probe pinned by hand in the stage
// with what m computes, and describes each disagreement with the model's
// explanation of the cell.
func (s *Stage) CheckPinned(m *model.Model) error {
	var msgs []string
	for _, pt := range s.Expect {
		key := reachability.Key{Port: pt.Port, Protocol: pt.Protocol}
		pinned, err := reachability.Parse(key, pt.Table)
		if err != nil {
			return fmt.Errorf("%s: table %s: %w", s.Name(), key, err)
		}
		computed, err := m.Table(key, pinned.From, false)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name(), err)
		}
		cmp := reachability.Compare(pinned, computed)
		for _, w := range cmp.Wrong {
			v, _ := m.Evaluate(model.Traffic{From: w.From, To: w.To, Port: key.Port, Protocol: key.Protocol})
			msgs = append(msgs, fmt.Sprintf("%s %s: pinned %s, model says %s\n%s", s.Name(), key, w.Expected.Outcome, w.Observed, v.Explain()))
		}
	}
	for _, p := range s.Probes {
		if p.Expect == "" {
			continue
		}
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		v, err := m.Evaluate(model.Traffic{From: p.From, To: p.To, Port: p.Port, Protocol: proto})
		if err != nil {
			return fmt.Errorf("%s: probe: %w", s.Name(), err)
		}
		if got := reachability.OutcomeFor(v.Allowed).String(); got != p.Expect {
			msgs = append(msgs, fmt.Sprintf("%s probe: pinned %s, model says %s\n%s", s.Name(), p.Expect, got, v.Explain()))
		}
	}
	if len(msgs) > 0 {
		return fmt.Errorf("%s", strings.Join(msgs, "\n"))
	}
	return nil
}
