package cluster

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSpreadNodes(t *testing.T) {
	node := func(name string, mutate ...func(*corev1.Node)) corev1.Node {
		n := corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{linuxNodeLabel: "linux"}},
			Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
		}
		for _, m := range mutate {
			m(&n)
		}
		return n
	}
	notReady := func(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse }
	cordoned := func(n *corev1.Node) { n.Spec.Unschedulable = true }
	windows := func(n *corev1.Node) { n.Labels[linuxNodeLabel] = "windows" }
	tainted := func(effect corev1.TaintEffect) func(*corev1.Node) {
		return func(n *corev1.Node) {
			n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "dedicated", Value: "db", Effect: effect})
		}
	}
	linux := AgentPlacement{NodeSelector: map[string]string{linuxNodeLabel: "linux"}}
	tolerant := linux
	tolerant.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}

	for _, tc := range []struct {
		name  string
		nodes []corev1.Node
		p     AgentPlacement
		want  []string
	}{
		{"one node: the scheduler places", []corev1.Node{node("a")}, linux, nil},
		{"two nodes, sorted by name", []corev1.Node{node("b"), node("a")}, linux, []string{"a", "b"}},
		{"at most three", []corev1.Node{node("d"), node("c"), node("b"), node("a")}, linux, []string{"a", "b", "c"}},
		{"not Ready, cordoned and Windows nodes are left out", []corev1.Node{node("a"), node("b", notReady), node("c", cordoned), node("d", windows), node("e")}, linux, []string{"a", "e"}},
		{"an untolerated NoSchedule taint leaves a node out", []corev1.Node{node("a"), node("b", tainted(corev1.TaintEffectNoSchedule))}, linux, nil},
		{"an untolerated NoExecute taint leaves a node out", []corev1.Node{node("a"), node("b", tainted(corev1.TaintEffectNoExecute)), node("c")}, linux, []string{"a", "c"}},
		{"PreferNoSchedule does not", []corev1.Node{node("a"), node("b", tainted(corev1.TaintEffectPreferNoSchedule))}, linux, []string{"a", "b"}},
		{"a tolerated taint does not", []corev1.Node{node("a"), node("b", tainted(corev1.TaintEffectNoSchedule))}, tolerant, []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := spreadNodes(tc.nodes, tc.p); !slices.Equal(got, tc.want) {
				t.Errorf("spreadNodes = %v, want %v", got, tc.want)
			}
		})
	}
}

// A pod the scheduler cannot place (pinned to a full node, say) is named
// with the scheduler's reason; any other pod without a node says nothing.
func TestUnschedulable(t *testing.T) {
	for _, tc := range []struct {
		name string
		cond []corev1.PodCondition
		want string
	}{
		{"unschedulable", []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
			Message: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector."}},
			": unschedulable: 0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector."},
		{"scheduled", []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}, ""},
		{"not yet looked at", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := unschedulable(&corev1.Pod{Status: corev1.PodStatus{Conditions: tc.cond}}); got != tc.want {
				t.Errorf("unschedulable = %q, want %q", got, tc.want)
			}
		})
	}
}
