package cases

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	anpv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netpol-conformance/netpol-conformance/clusterpolicy"
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
	// ClusterPolicies are the live cluster-wide policies, networks
	// placeholders resolved.
	ClusterPolicies []clusterpolicy.Object
	Expect          []PinnedTable
	Probes          []Probe
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
	return model.NewTiered(s.Topology, s.Policies, clusterpolicy.Model(s.ClusterPolicies))
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
	var cluster []clusterpolicy.Object
	for i := range c.ClusterPolicies {
		o := &c.ClusterPolicies[i]
		if slices.IndexFunc(cluster, sameObject(o)) >= 0 {
			errs = append(errs, field.Duplicate(field.NewPath("clusterPolicies").Index(i).Child("metadata", "name"), o.Kind()+" "+o.Name()))
			continue
		}
		cluster = append(cluster, *o.DeepCopy())
	}
	stages := []Stage{{Topology: topo, Policies: live, ClusterPolicies: cluster, Expect: c.Expect, Probes: c.Probes}}

	for i := range c.Steps {
		step := &c.Steps[i]
		path := field.NewPath("steps").Index(i)
		topo = topo.DeepCopy()
		live = slices.Clone(live)
		cluster = slices.Clone(cluster)
		switch {
		case step.CreateClusterPolicy != nil:
			if slices.IndexFunc(cluster, sameObject(step.CreateClusterPolicy)) >= 0 {
				errs = append(errs, field.Duplicate(path.Child("createClusterPolicy", "metadata", "name"), step.CreateClusterPolicy.Name()))
				break
			}
			cluster = append(cluster, *step.CreateClusterPolicy.DeepCopy())
		case step.UpdateClusterPolicy != nil:
			j := slices.IndexFunc(cluster, sameObject(step.UpdateClusterPolicy))
			if j < 0 {
				errs = append(errs, field.NotFound(path.Child("updateClusterPolicy", "metadata", "name"), step.UpdateClusterPolicy.Kind()+" "+step.UpdateClusterPolicy.Name()))
				break
			}
			cluster[j] = *step.UpdateClusterPolicy.DeepCopy()
		case step.DeleteClusterPolicy != nil:
			ref := step.DeleteClusterPolicy
			j := slices.IndexFunc(cluster, func(o clusterpolicy.Object) bool { return o.Kind() == ref.Kind && o.Name() == ref.Name })
			if j < 0 {
				errs = append(errs, field.NotFound(path.Child("deleteClusterPolicy"), ref.Kind+" "+ref.Name))
				break
			}
			cluster = slices.Delete(cluster, j, j+1)
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
		stages = append(stages, Stage{Index: i + 1, Step: step, Topology: topo, Policies: live, ClusterPolicies: cluster, Expect: step.Expect, Probes: step.Probes})
	}
	for i := range stages {
		resolved, perrs := resolvePolicies(stages[i].Policies, stages[i].Topology)
		stages[i].Policies = resolved
		errs = append(errs, perrs...)
		cresolved, cerrs := resolveClusterPolicies(stages[i].ClusterPolicies, stages[i].Topology)
		stages[i].ClusterPolicies = cresolved
		errs = append(errs, cerrs...)
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
	resolve := func(s string, path *field.Path) string { return resolveAddress(s, topo, path, &errs) }
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

func sameObject(o *clusterpolicy.Object) func(clusterpolicy.Object) bool {
	return func(q clusterpolicy.Object) bool { return q.SameObject(o) }
}

func samePolicy(p *networkingv1.NetworkPolicy) func(networkingv1.NetworkPolicy) bool {
	return func(q networkingv1.NetworkPolicy) bool { return q.Namespace == p.Namespace && q.Name == p.Name }
}

// resolveAddress replaces every $(ns/pod) in s by the pod's IP in topo,
// adding to errs each pod topo does not have.
func resolveAddress(s string, topo *topology.Topology, path *field.Path, errs *field.ErrorList) string {
	// A field that is only a placeholder means the pod's own address,
	// as a /32 or /128 prefix whichever family the cluster uses.
	if m := placeholder.FindStringSubmatch(s); m != nil && m[0] == s {
		pod := topo.Pod(m[1])
		if pod == nil {
			*errs = append(*errs, field.NotFound(path, s))
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
			*errs = append(*errs, field.NotFound(path, m))
			return m
		}
		return pod.IP
	})
}

// resolveClusterPolicies returns copies of objs with every $(ns/pod) in a
// networks peer replaced by the pod's address.
func resolveClusterPolicies(objs []clusterpolicy.Object, topo *topology.Topology) ([]clusterpolicy.Object, field.ErrorList) {
	var errs field.ErrorList
	out := make([]clusterpolicy.Object, len(objs))
	for i := range objs {
		o, oerrs := resolveClusterPolicy(&objs[i], topo, field.NewPath(objs[i].Ref()))
		out[i] = *o
		errs = append(errs, oerrs...)
	}
	return out, errs
}

// resolveClusterPolicy returns a copy of o with every $(ns/pod) in a
// networks peer replaced by the pod's address, as a /32 or /128 prefix.
func resolveClusterPolicy(o *clusterpolicy.Object, topo *topology.Topology, fldPath *field.Path) (*clusterpolicy.Object, field.ErrorList) {
	var errs field.ErrorList
	o = o.DeepCopy()
	egress := fldPath.Child("spec", "egress")
	resolve := func(s string, rule, peer, n int) string {
		return resolveAddress(s, topo, egress.Index(rule).Child("to").Index(peer).Child("networks").Index(n), &errs)
	}
	switch {
	case o.AdminNetworkPolicy != nil:
		for j, r := range o.AdminNetworkPolicy.Spec.Egress {
			for k, q := range r.To {
				for n := range q.Networks {
					q.Networks[n] = anpv1alpha1.CIDR(resolve(string(q.Networks[n]), j, k, n))
				}
			}
		}
	case o.BaselineAdminNetworkPolicy != nil:
		for j, r := range o.BaselineAdminNetworkPolicy.Spec.Egress {
			for k, q := range r.To {
				for n := range q.Networks {
					q.Networks[n] = anpv1alpha1.CIDR(resolve(string(q.Networks[n]), j, k, n))
				}
			}
		}
	case o.ClusterNetworkPolicy != nil:
		for j, r := range o.ClusterNetworkPolicy.Spec.Egress {
			for k, q := range r.To {
				for n := range q.Networks {
					q.Networks[n] = cnpv1beta1.CIDR(resolve(string(q.Networks[n]), j, k, n))
				}
			}
		}
	}
	return o, errs
}
