package probing

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/netpol-conformance/netpol-conformance/reachability"
)

var key = reachability.Key{Port: 80, Protocol: corev1.ProtocolTCP}

// table builds a 2x2 table over a and b from four outcomes in row order.
func table(cells ...reachability.Outcome) *reachability.Table {
	t := reachability.New(key, []string{"a", "b"}, []string{"a", "b"})
	for i, o := range cells {
		t.SetAt(i/2, i%2, reachability.Cell{Outcome: o})
	}
	return t
}

const (
	A = reachability.Allowed
	X = reachability.Blocked
	E = reachability.ProbeError
)

// passes returns a PassFunc that replays the given observations, then
// repeats the last one.
func passes(obs ...*reachability.Table) PassFunc {
	i := 0
	return func(context.Context) ([]*reachability.Table, error) {
		t := obs[min(i, len(obs)-1)]
		i++
		return []*reachability.Table{t}, nil
	}
}

func TestConverge(t *testing.T) {
	expected := table(A, X, A, A)
	expected.SetAt(0, 0, reachability.Cell{Outcome: A, ImplementationDefined: true})
	opts := Options{Timeout: 200 * time.Millisecond, Confirm: 1, Interval: time.Millisecond}
	tests := []struct {
		name          string
		obs           []*reachability.Table
		wantConverged bool
		wantPasses    int
		wantFlapping  int
	}{
		{"matches at once", []*reachability.Table{table(A, X, A, A)}, true, 2, 0},
		{"enforced after two passes", []*reachability.Table{table(A, A, A, A), table(A, A, A, A), table(A, X, A, A)}, true, 4, 0},
		{"implementation-defined cell never holds the wait", []*reachability.Table{table(X, X, A, A)}, true, 2, 0},
		{"flips back after matching: flapping, not a retry", []*reachability.Table{table(A, X, A, A), table(A, A, A, A)}, false, 2, 1},
		{"probe error never passes for blocked", []*reachability.Table{table(A, E, A, A)}, false, 0, 0},
		{"never enforced", []*reachability.Table{table(A, A, A, A)}, false, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Converge(context.Background(), time.Now(), []*reachability.Table{expected}, passes(tc.obs...), opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Converged != tc.wantConverged {
				t.Errorf("Converged = %v, want %v (passes %d)", res.Converged, tc.wantConverged, len(res.Passes))
			}
			if tc.wantPasses > 0 && len(res.Passes) != tc.wantPasses {
				t.Errorf("%d passes, want %d", len(res.Passes), tc.wantPasses)
			}
			if len(res.Flapping) != tc.wantFlapping {
				t.Errorf("Flapping = %v, want %d cells", res.Flapping, tc.wantFlapping)
			}
			if tc.wantConverged && (res.TimeToEnforce <= 0 || res.TimeToEnforce > time.Second) {
				t.Errorf("TimeToEnforce = %v", res.TimeToEnforce)
			}
			if !tc.wantConverged && tc.wantFlapping == 0 && len(res.Passes) < 2 {
				t.Errorf("gave up after %d passes, before the timeout", len(res.Passes))
			}
		})
	}
}

func TestConvergePassError(t *testing.T) {
	fail := func(context.Context) ([]*reachability.Table, error) { return nil, errors.New("exec failed") }
	if _, err := Converge(context.Background(), time.Now(), []*reachability.Table{table(A, A, A, A)}, fail, Options{Timeout: time.Second}); err == nil {
		t.Fatal("a failing pass must surface as an error")
	}
}

func TestFailureMessage(t *testing.T) {
	expected := table(A, X, A, A)
	expected.SetAt(0, 0, reachability.Cell{Outcome: A, ImplementationDefined: true})
	res, err := Converge(context.Background(), time.Now(), []*reachability.Table{expected}, passes(table(X, A, A, E)), Options{Timeout: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	explain := func(from, to string, k reachability.Key) string { return "because " + from + " " + to }
	msg := FailureMessage([]*reachability.Table{expected}, res, explain, nil)
	for _, want := range []string{
		"did not match the model",
		"80/TCP: expected\n- a b\na . X\nb . .\n",
		"80/TCP: observed\n- a b\na X .\nb . E\n",
		"80/TCP: diff (X = wrong, ? = implementation-defined or not pinned)\n- a b\na ? X\nb . X\n",
		"WRONG a -> b 80/TCP: expected blocked, observed allowed\n      because a b\n",
		"WRONG b -> b 80/TCP: expected allowed, observed probe-error",
		"implementation-defined a -> a 80/TCP: model's reading allowed, observed blocked (not a failure)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "nodes:") || strings.Contains(msg, "[same node]") {
		t.Errorf("a message without placement speaks of nodes:\n%s", msg)
	}
	// On two nodes: where each pod ran, and each wrong cell's side.
	msg = FailureMessage([]*reachability.Table{expected}, res, explain, map[string]string{"a": "n1", "b": "n2"})
	for _, want := range []string{
		"nodes: n1: a; n2: b\n",
		"WRONG a -> b 80/TCP [across nodes]: expected blocked",
		"WRONG b -> b 80/TCP [same node]: expected allowed",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	// On one node there is nothing to tell.
	if msg := FailureMessage([]*reachability.Table{expected}, res, explain, map[string]string{"a": "n1", "b": "n1"}); strings.Contains(msg, "node") {
		t.Errorf("a one-node message speaks of nodes:\n%s", msg)
	}
}

// TestConvergeSettles checks that an unchanged state cannot pass before
// the settle time: a late enforcer that then breaks it is caught.
func TestConvergeSettles(t *testing.T) {
	expected := table(A, A, A, A)
	// Matches at once (the state before the change), then the enforcer
	// acts, wrongly, from the fourth pass on.
	obs := passes(table(A, A, A, A), table(A, A, A, A), table(A, A, A, A), table(A, X, A, A))
	res, err := Converge(context.Background(), time.Now(), []*reachability.Table{expected}, obs, Options{Timeout: time.Second, Confirm: 1, Interval: 20 * time.Millisecond, MinSettle: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Converged || len(res.Flapping) != 1 {
		t.Errorf("Converged=%v flapping=%v after %d passes: a late wrong change must be caught", res.Converged, res.Flapping, len(res.Passes))
	}
}

// After the first match, the confirming passes are the ConfirmPass: a cell
// it sees leak is flapping, a failure, however well the plain pass looked.
func TestConvergeConfirmsWithConfirmPass(t *testing.T) {
	expected := table(A, X, A, A)
	plain := 0
	confirm := 0
	opts := Options{Timeout: time.Second, Confirm: 1, Interval: time.Millisecond,
		ConfirmPass: func(context.Context) ([]*reachability.Table, error) {
			confirm++
			return []*reachability.Table{table(A, A, A, A)}, nil // one of 44 flows got through
		}}
	res, err := Converge(context.Background(), time.Now(), []*reachability.Table{expected}, func(context.Context) ([]*reachability.Table, error) {
		plain++
		return []*reachability.Table{expected}, nil
	}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Converged || len(res.Flapping) != 1 || plain != 1 || confirm != 1 {
		t.Errorf("converged=%v flapping=%v plain=%d confirm=%d: want a flapping cell found by the one confirming pass", res.Converged, res.Flapping, plain, confirm)
	}
}
