package probing

import (
	"math/rand/v2"
	"testing"
)

func TestFlowsFor(t *testing.T) {
	for _, tc := range []struct {
		leak, detect float64
		want         int
	}{
		{0.10, 0.99, 44}, // 0.9^44 = 0.0097
		{0.50, 0.99, 7},
		{0.01, 0.99, 459},
		{0, 0.99, 1},
	} {
		if got := FlowsFor(tc.leak, tc.detect); got != tc.want {
			t.Errorf("FlowsFor(%v, %v) = %d, want %d", tc.leak, tc.detect, got, tc.want)
		}
	}
	if p := DetectionProbability(Leak, ConfirmFlows); p < Detect {
		t.Errorf("%d flows catch a %v leak with probability %v < %v", ConfirmFlows, Leak, p, Detect)
	}
}

// A simulated enforcer that lets a share of new flows through is caught
// by the confirming pass at the stated rate: the 489 of 1,000 runs
// judged conformant at 50 % becomes none, and 10 % at most ~1 %.
func TestConfirmFlowsCatchLeaks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const runs = 10000
	for _, leak := range []float64{0.10, 0.50} {
		missed := 0
		for range runs {
			caught := false
			for range ConfirmFlows {
				if rng.Float64() < leak {
					caught = true
					break
				}
			}
			if !caught {
				missed++
			}
		}
		if rate := float64(missed) / runs; rate > 1-Detect+0.005 {
			t.Errorf("leak %v: missed in %.2f%% of runs, want at most %.1f%%", leak, 100*rate, 100*(1-Detect))
		}
	}
}
