package results

import (
	"strings"
	"testing"
)

func TestWhyOf(t *testing.T) {
	tests := []struct {
		name     string
		c        *Case
		wantText string
		wantLink string
	}{
		{"a pass needs none", &Case{Verdict: Pass}, "", ""},
		{"a known deviation: the profile's words and link", &Case{Verdict: KnownDeviation,
			Message: `known-deviation of cilium v1.20.2 (profiles/cilium.yaml, all versions): ipBlock never matches pod IPs. See https://github.com/cilium/cilium/issues/9209`},
			"ipBlock never matches pod IPs.", "https://github.com/cilium/cilium/issues/9209"},
		{"a failure: its summary and the first wrong cell with the side that decided", &Case{Verdict: Fail,
			Message: "the cluster departs from the NetworkPolicy spec in 1 cells",
			Detail:  "== initial\n  WRONG y/b -> x/a 80/TCP: expected blocked, observed allowed\n      y/b -> x/a 80/TCP: blocked\n        egress at y/b: allowed, not isolated\n        ingress at x/a: blocked: isolated by x/deny, no rule allows it\n"},
			"the cluster departs from the NetworkPolicy spec in 1 cells — y/b -> x/a 80/TCP: expected blocked, observed allowed; ingress at x/a: blocked: isolated by x/deny, no rule allows it", ""},
		{"an own reading", &Case{Verdict: ImplementationDefined, OwnReadings: []string{"initial: x/a -> x/a 80/TCP: model's reading allowed, observed blocked"}},
			"initial: x/a -> x/a 80/TCP: model's reading allowed, observed blocked", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := whyOf(tt.c)
			if tt.wantText == "" {
				if w != nil {
					t.Fatalf("why %+v, want none", w)
				}
				return
			}
			if w == nil || w.Full != tt.wantText || w.Link != tt.wantLink {
				t.Fatalf("why %+v, want %q and link %q", w, tt.wantText, tt.wantLink)
			}
		})
	}
	long := whyOf(&Case{Verdict: Fail, Message: strings.Repeat("x", 300)})
	if len([]rune(long.Text)) != 138 || len(long.Full) != 300 {
		t.Errorf("a long why is cut for the cell (%d runes) and kept whole in its title (%d)", len([]rune(long.Text)), len(long.Full))
	}
}

func TestFamiliesRollUp(t *testing.T) {
	m := recordedMatrix(t)
	fams := m.Families()
	if len(fams) != 2 || fams[0].Family != "egress" {
		t.Fatalf("families %v", fams)
	}
	for _, f := range fams {
		for i, r := range f.Runs {
			total := 0
			for _, n := range r.Counts {
				total += n
			}
			rows := 0
			for _, row := range m.Rows {
				if row.Family == f.Family {
					rows++
				}
			}
			if total != rows {
				t.Errorf("%s in run %d counts %d cases, the family has %d", f.Family, i, total, rows)
			}
		}
	}
	// kube-router (run 1) fails somewhere: its worst verdict shows it.
	worst := map[Verdict]bool{}
	for _, f := range fams {
		worst[f.Runs[1].Worst] = true
	}
	if !worst[Fail] {
		t.Errorf("kube-router's roll-up never shows its failures: %v", worst)
	}
}
