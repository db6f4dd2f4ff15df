package cluster

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// AgentPlacement is where and how the agent pods run, for clusters whose
// nodes are tainted, mixed (Linux and Windows, amd64 and arm64 images), or
// pull from a private registry.
type AgentPlacement struct {
	PullSecrets  []string
	NodeSelector map[string]string
	Tolerations  []corev1.Toleration
	Resources    corev1.ResourceRequirements
}

// DefaultAgentResources fit an agent serving its ports and sending a
// confirming pass (about 1,500 flows at once): 30 MiB measured idle.
var DefaultAgentResources = corev1.ResourceRequirements{
	Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
	Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
}

// linuxNodes is the node selector every agent pod has: the agent is a
// Linux binary.
const linuxNodeLabel = "kubernetes.io/os"

// ParseAgentPlacement reads the knobs' text forms, each a comma-separated
// list (empty: none):
//
//	pullSecrets  NAME,...
//	nodeSelector KEY=VALUE,...            (kubernetes.io/os=linux is always added)
//	tolerations  KEY[=VALUE]:EFFECT,...   KEY:EFFECT tolerates any value; "*" tolerates every taint
//	resources    requests.cpu=10m,limits.memory=256Mi,...  (over DefaultAgentResources)
func ParseAgentPlacement(pullSecrets, nodeSelector, tolerations, resources string) (AgentPlacement, error) {
	p := AgentPlacement{NodeSelector: map[string]string{linuxNodeLabel: "linux"}, Resources: *DefaultAgentResources.DeepCopy()}
	var errs []string
	for _, s := range split(pullSecrets) {
		p.PullSecrets = append(p.PullSecrets, s)
	}
	for _, kv := range split(nodeSelector) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			errs = append(errs, fmt.Sprintf("node selector %q: want KEY=VALUE", kv))
			continue
		}
		p.NodeSelector[k] = v
	}
	for _, t := range split(tolerations) {
		tol, err := parseToleration(t)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		p.Tolerations = append(p.Tolerations, tol)
	}
	for _, kv := range split(resources) {
		k, v, ok := strings.Cut(kv, "=")
		kind, name, ok2 := strings.Cut(k, ".")
		q, err := resource.ParseQuantity(v)
		if !ok || !ok2 || (kind != "requests" && kind != "limits") || err != nil {
			errs = append(errs, fmt.Sprintf("resource %q: want requests.NAME=QUANTITY or limits.NAME=QUANTITY, e.g. limits.memory=256Mi", kv))
			continue
		}
		list := &p.Resources.Requests
		if kind == "limits" {
			list = &p.Resources.Limits
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[corev1.ResourceName(name)] = q
	}
	if len(errs) > 0 {
		return AgentPlacement{}, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return p, nil
}

func parseToleration(s string) (corev1.Toleration, error) {
	if s == "*" {
		return corev1.Toleration{Operator: corev1.TolerationOpExists}, nil
	}
	kv, effect, _ := strings.Cut(s, ":")
	k, v, hasValue := strings.Cut(kv, "=")
	t := corev1.Toleration{Key: k, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffect(effect)}
	if hasValue {
		t.Operator, t.Value = corev1.TolerationOpEqual, v
	}
	switch t.Effect {
	case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
	default:
		return t, fmt.Errorf("toleration %q: effect %q is not NoSchedule, PreferNoSchedule or NoExecute", s, effect)
	}
	if k == "" {
		return t, fmt.Errorf("toleration %q: want KEY[=VALUE]:EFFECT, or * for every taint", s)
	}
	return t, nil
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// apply sets the placement on an agent pod.
func (p AgentPlacement) apply(pod *corev1.Pod) {
	for _, s := range p.PullSecrets {
		pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	pod.Spec.NodeSelector = p.NodeSelector
	pod.Spec.Tolerations = p.Tolerations
	for i := range pod.Spec.Containers {
		pod.Spec.Containers[i].Resources = p.Resources
	}
}
