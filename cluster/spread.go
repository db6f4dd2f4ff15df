package cluster

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// maxSpread bounds how many nodes the topology's pods are spread over:
// two give every source pod a target on its own node and one on another,
// a third gives cross-node pairs that share neither end's node.
const maxSpread = 3

// spreadNodes are the nodes the topology's pods are spread over, sorted by
// name so that every run on a cluster places them alike: Ready, schedulable
// nodes matching the placement's node selector, with no NoSchedule or
// NoExecute taint it does not tolerate. Fewer than two leave placement to
// the scheduler (nil): on one node every cell is same-node anyway.
func spreadNodes(nodes []corev1.Node, p AgentPlacement) []string {
	var out []string
	for i := range nodes {
		if eligible(&nodes[i], p) {
			out = append(out, nodes[i].Name)
		}
	}
	slices.Sort(out)
	if len(out) < 2 {
		return nil
	}
	return out[:min(len(out), maxSpread)]
}

func eligible(n *corev1.Node, p AgentPlacement) bool {
	if n.Spec.Unschedulable {
		return false
	}
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	if !ready {
		return false
	}
	for k, v := range p.NodeSelector {
		if n.Labels[k] != v {
			return false
		}
	}
	for i := range n.Spec.Taints {
		t := &n.Spec.Taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		if !slices.ContainsFunc(p.Tolerations, func(tol corev1.Toleration) bool { return tol.ToleratesTaint(t) }) {
			return false
		}
	}
	return true
}

// pin makes the scheduler put pod on node, by a required node affinity on
// the node's name: unlike setting spec.nodeName it still checks resources,
// taints and the node selector, and a pod that cannot fit stays Pending
// with the scheduler's reason.
func pin(pod *corev1.Pod, node string) {
	pod.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
		}}},
	}}
}
