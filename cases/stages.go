package cases

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/netpol-conformance/netpol-conformance/model"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

// Stage is the cluster state a case is probed in: the initial policies
// (Index 0), then the state after each step.
type Stage struct {
	Index int
	// Step is the step that led here; nil for the initial stage.
	Step     *Step
	Topology *topology.Topology
	// Policies are the live policies, ipBlock placeholders resolved.
	Policies []networkingv1.NetworkPolicy
	Expect   []PinnedTable
	Probes   []Probe
}

// Name is "initial" or "step N: description".
func (s *Stage) Name() string {
	if s.Step == nil {
		return "initial"
	}
	if s.Step.Description == "" {
		return fmt.Sprintf("step %d", s.Index)
	}
	return fmt.Sprintf("step %d: %s", s.Index, s.Step.Description)
}

// Model builds the reference model for this stage.
func (s *Stage) Model() (*model.Model, error) {
	return model.New(s.Topology, s.Policies)
}

// Stages replays the case on base, a topology that holds the pods and
// namespaces the case refers to (the standard one, or the cluster's with
// real pod IPs). base is not modified.
func (c *Case) Stages(base *topology.Topology) ([]Stage, error) {
	stages, errs := c.stages(base)
	if len(errs) > 0 {
		return nil, fmt.Errorf("case %s: %w", c.Name, errs.ToAggregate())
	}
	return stages, nil
}

func (c *Case) stages(base *topology.Topology) ([]Stage, field.ErrorList) {
	var errs field.ErrorList
	topo := base.DeepCopy()
	var live []networkingv1.NetworkPolicy
	for i := range c.Policies {
		path := field.NewPath("policies").Index(i)
		if slices.IndexFunc(live, samePolicy(&c.Policies[i])) >= 0 {
			errs = append(errs, field.Duplicate(path.Child("metadata", "name"), c.Policies[i].Name))
			continue
		}
		live = append(live, *c.Policies[i].DeepCopy())
	}
	stages := []Stage{{Topology: topo, Policies: live, Expect: c.Expect, Probes: c.Probes}}

	for i := range c.Steps {
		step := &c.Steps[i]
		path := field.NewPath("steps").Index(i)
		topo = topo.DeepCopy()
		live = slices.Clone(live)
		switch {
		case step.CreatePolicy != nil:
			if slices.IndexFunc(live, samePolicy(step.CreatePolicy)) >= 0 {
				errs = append(errs, field.Duplicate(path.Child("createPolicy", "metadata", "name"), step.CreatePolicy.Name))
				break
			}
			live = append(live, *step.CreatePolicy.DeepCopy())
		case step.UpdatePolicy != nil:
			j := slices.IndexFunc(live, samePolicy(step.UpdatePolicy))
			if j < 0 {
				errs = append(errs, field.NotFound(path.Child("updatePolicy", "metadata", "name"), step.UpdatePolicy.Namespace+"/"+step.UpdatePolicy.Name))
				break
			}
			live[j] = *step.UpdatePolicy.DeepCopy()
		case step.DeletePolicy != nil:
			ref := step.DeletePolicy
			j := slices.IndexFunc(live, func(p networkingv1.NetworkPolicy) bool { return p.Namespace == ref.Namespace && p.Name == ref.Name })
			if j < 0 {
				errs = append(errs, field.NotFound(path.Child("deletePolicy"), ref.Namespace+"/"+ref.Name))
				break
			}
			live = slices.Delete(live, j, j+1)
		case step.SetPodLabels != nil:
			pod := topo.Pod(step.SetPodLabels.Pod)
			if pod == nil {
				errs = append(errs, field.NotFound(path.Child("setPodLabels", "pod"), step.SetPodLabels.Pod))
				break
			}
			pod.Labels = maps.Clone(step.SetPodLabels.Labels)
		case step.SetNamespaceLabels != nil:
			ns := topo.Namespace(step.SetNamespaceLabels.Namespace)
			if ns == nil {
				errs = append(errs, field.NotFound(path.Child("setNamespaceLabels", "namespace"), step.SetNamespaceLabels.Namespace))
				break
			}
			ns.Labels = maps.Clone(step.SetNamespaceLabels.Labels)
		}
		stages = append(stages, Stage{Index: i + 1, Step: step, Topology: topo, Policies: live, Expect: step.Expect, Probes: step.Probes})
	}
	for i := range stages {
		resolved, perrs := resolvePolicies(stages[i].Policies, stages[i].Topology)
		stages[i].Policies = resolved
		errs = append(errs, perrs...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return stages, nil
}

// placeholder is $(ns/pod): the pod's IP, so ipBlock cases work on any
// cluster's pod IPs. "$(y/b)" alone is the pod's single-address prefix;
// inside a longer string it is the bare address.
var placeholder = regexp.MustCompile(`\$\(([^)]*)\)`)

// resolvePolicies returns copies of policies with every ipBlock
// placeholder replaced by the pod's IP in topo.
func resolvePolicies(policies []networkingv1.NetworkPolicy, topo *topology.Topology) ([]networkingv1.NetworkPolicy, field.ErrorList) {
	var errs field.ErrorList
	out := make([]networkingv1.NetworkPolicy, len(policies))
	for i := range policies {
		p, perrs := resolvePolicy(&policies[i], topo, field.NewPath(policies[i].Namespace+"/"+policies[i].Name))
		out[i] = *p
		errs = append(errs, perrs...)
	}
	return out, errs
}

// resolvePolicy returns a copy of np with every $(ns/pod) in ipBlock cidr
// and except replaced by the pod's IP in topo.
func resolvePolicy(np *networkingv1.NetworkPolicy, topo *topology.Topology, fldPath *field.Path) (*networkingv1.NetworkPolicy, field.ErrorList) {
	var errs field.ErrorList
	resolve := func(s string, path *field.Path) string {
		// A field that is only a placeholder means the pod's own address,
		// as a /32 or /128 prefix whichever family the cluster uses.
		if m := placeholder.FindStringSubmatch(s); m != nil && m[0] == s {
			pod := topo.Pod(m[1])
			if pod == nil {
				errs = append(errs, field.NotFound(path, s))
				return s
			}
			if addr, err := netip.ParseAddr(pod.IP); err == nil {
				return netip.PrefixFrom(addr, addr.BitLen()).String()
			}
			return pod.IP
		}
		return placeholder.ReplaceAllStringFunc(s, func(m string) string {
			key := placeholder.FindStringSubmatch(m)[1]
			pod := topo.Pod(key)
			if pod == nil {
				errs = append(errs, field.NotFound(path, m))
				return m
			}
			return pod.IP
		})
	}
	peers := func(list []networkingv1.NetworkPolicyPeer, path *field.Path) {
		for i := range list {
			if b := list[i].IPBlock; b != nil {
				b.CIDR = resolve(b.CIDR, path.Index(i).Child("ipBlock", "cidr"))
				for j := range b.Except {
					b.Except[j] = resolve(b.Except[j], path.Index(i).Child("ipBlock", "except").Index(j))
				}
			}
		}
	}
	p := np.DeepCopy()
	spec := fldPath.Child("spec")
	for j := range p.Spec.Ingress {
		peers(p.Spec.Ingress[j].From, spec.Child("ingress").Index(j).Child("from"))
	}
	for j := range p.Spec.Egress {
		peers(p.Spec.Egress[j].To, spec.Child("egress").Index(j).Child("to"))
	}
	return p, errs
}

func samePolicy(p *networkingv1.NetworkPolicy) func(networkingv1.NetworkPolicy) bool {
	return func(q networkingv1.NetworkPolicy) bool { return q.Namespace == p.Namespace && q.Name == p.Name }
}
