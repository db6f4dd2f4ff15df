package cases

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/netpol-conformance/netpol-conformance/clusterpolicy"
	"github.com/netpol-conformance/netpol-conformance/model"
	"github.com/netpol-conformance/netpol-conformance/reachability"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

// validateFile checks everything decoding cannot: names, selectors, ports,
// protocols, CIDRs, steps that refer to unknown objects, pinned tables that
// do not fit the topology.
func validateFile(f *File, topo *topology.Topology) []*Problem {
	var problems []*Problem
	add := func(c *Case, errs field.ErrorList) {
		for _, e := range errs {
			p := &Problem{File: f.Source, Field: e.Field, Detail: e.ErrorBody()}
			if c != nil {
				p.Case = c.Name
			}
			problems = append(problems, p)
		}
	}
	want := strings.TrimSuffix(strings.TrimSuffix(path.Base(f.Source), ".yaml"), ".yml")
	switch {
	case f.Family == "":
		add(nil, field.ErrorList{field.Required(field.NewPath("family"), fmt.Sprintf("set family: %s (the file name without .yaml)", want))})
	case f.Family != want:
		add(nil, field.ErrorList{field.Invalid(field.NewPath("family"), f.Family, fmt.Sprintf("must equal the file name without .yaml (%s): rename the file or the family", want))})
	}
	if len(f.Cases) == 0 {
		add(nil, field.ErrorList{field.Required(field.NewPath("cases"), "a case file holds at least one case")})
	}
	for i := range f.Cases {
		add(&f.Cases[i], validateCase(&f.Cases[i], topo))
	}
	return problems
}

func validateCase(c *Case, topo *topology.Topology) field.ErrorList {
	var errs field.ErrorList
	if c.Name == "" {
		errs = append(errs, field.Required(field.NewPath("name"), "every case needs a unique name"))
	} else {
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			errs = append(errs, field.Invalid(field.NewPath("name"), c.Name, msg))
		}
	}
	if strings.TrimSpace(c.Description) == "" {
		errs = append(errs, field.Required(field.NewPath("description"), "say what the case checks and why it matters"))
	}
	for i, tag := range c.Tags {
		for _, msg := range validation.IsDNS1123Label(tag) {
			errs = append(errs, field.Invalid(field.NewPath("tags").Index(i), tag, msg))
		}
	}
	if c.ProbeVia != "" && c.ProbeVia != ProbeViaPod && c.ProbeVia != ProbeViaService {
		errs = append(errs, field.NotSupported(field.NewPath("probeVia"), c.ProbeVia, []string{ProbeViaPod, ProbeViaService}))
	}
	for i := range c.Policies {
		errs = append(errs, validatePolicyRefs(&c.Policies[i], field.NewPath("policies").Index(i), topo)...)
	}
	for i := range c.ClusterPolicies {
		path := field.NewPath("clusterPolicies").Index(i)
		errs = append(errs, validateClusterPolicy(&c.ClusterPolicies[i], path, topo)...)
		errs = append(errs, validateSubjectScope(&c.ClusterPolicies[i], path, topo)...)
	}
	// A cluster serves one generation of the cluster-wide API and an
	// enforcer implements one: a case that needs both runs nowhere.
	if apis := c.APIs(); len(apis) > 1 {
		errs = append(errs, field.Invalid(field.NewPath("clusterPolicies"), apis, "a case uses one API: AdminNetworkPolicy and BaselineAdminNetworkPolicy, or ClusterNetworkPolicy; split it in two"))
	}
	errs = append(errs, validateExpect(c.Expect, field.NewPath("expect"), topo)...)
	errs = append(errs, validateProbes(c.Probes, field.NewPath("probes"), topo)...)
	for i := range c.Steps {
		errs = append(errs, validateStep(&c.Steps[i], field.NewPath("steps").Index(i), topo)...)
	}
	if len(errs) > 0 {
		return errs
	}
	// Only a structurally valid case is replayed: steps against the
	// policies they refer to, then every stage through the model.
	stages, serrs := c.stages(topo)
	if len(serrs) > 0 {
		return serrs
	}
	for _, s := range stages {
		if _, err := s.Model(); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("stage", s.Name()), field.OmitValueType{}, err.Error()))
		}
	}
	return errs
}

func validatePolicyRefs(np *networkingv1.NetworkPolicy, fldPath *field.Path, topo *topology.Topology) field.ErrorList {
	// Placeholders are resolved first so a CIDR is checked as the cluster
	// will see it, and an unknown pod is reported as such.
	resolved, errs := resolvePolicy(np, topo, fldPath)
	unresolved := map[string]bool{}
	for _, e := range errs {
		unresolved[e.Field] = true
	}
	for _, e := range model.ValidatePolicy(resolved, fldPath) {
		// An unknown pod is already reported; its CIDR cannot be checked.
		if !unresolved[e.Field] {
			errs = append(errs, e)
		}
	}
	if np.Namespace != "" && topo.Namespace(np.Namespace) == nil {
		errs = append(errs, field.NotFound(fldPath.Child("metadata", "namespace"), np.Namespace))
	}
	return errs
}

// validateClusterPolicy checks a cluster-wide policy as its CRD would,
// after its placeholders are resolved.
func validateClusterPolicy(o *clusterpolicy.Object, fldPath *field.Path, topo *topology.Topology) field.ErrorList {
	resolved, errs := resolveClusterPolicy(o, topo, fldPath)
	unresolved := map[string]bool{}
	for _, e := range errs {
		unresolved[e.Field] = true
	}
	for _, e := range clusterpolicy.Validate(resolved, fldPath) {
		// An unknown pod is already reported; its CIDR cannot be checked.
		if !unresolved[e.Field] {
			errs = append(errs, e)
		}
	}
	return errs
}

// validateSubjectScope keeps a case's cluster-wide policy to the
// scenario's namespaces: on a cluster, a subject that selects kube-system
// would cut the cluster's DNS, and one that selects every namespace would
// reach the suite itself and every workload. (The suite also limits each
// subject to its run's namespaces when it sends the policy.)
func validateSubjectScope(o *clusterpolicy.Object, fldPath *field.Path, topo *topology.Topology) field.ErrorList {
	sel, err := metav1.LabelSelectorAsSelector(o.SubjectNamespaces())
	if err != nil || o.SubjectNamespaces() == nil {
		return nil // reported by validateClusterPolicy
	}
	var errs field.ErrorList
	for i := range topo.Namespaces {
		ns := &topo.Namespaces[i]
		if !slices.Contains(topology.StandardNamespaces, ns.Name) && sel.Matches(labels.Set(ns.NamespaceLabels())) {
			errs = append(errs, field.Invalid(fldPath.Child("spec", "subject"), ns.Name, fmt.Sprintf("the subject selects namespace %s: a case applies cluster-wide policies to its own namespaces (%s) only; select them by label, e.g. {matchExpressions: [{key: ns, operator: Exists}]}", ns.Name, strings.Join(topology.StandardNamespaces, ", "))))
		}
	}
	return errs
}

func validateStep(s *Step, fldPath *field.Path, topo *topology.Topology) field.ErrorList {
	var errs field.ErrorList
	actions := 0
	if s.CreateClusterPolicy != nil {
		actions++
		errs = append(errs, validateClusterPolicy(s.CreateClusterPolicy, fldPath.Child("createClusterPolicy"), topo)...)
		errs = append(errs, validateSubjectScope(s.CreateClusterPolicy, fldPath.Child("createClusterPolicy"), topo)...)
	}
	if s.UpdateClusterPolicy != nil {
		actions++
		errs = append(errs, validateClusterPolicy(s.UpdateClusterPolicy, fldPath.Child("updateClusterPolicy"), topo)...)
		errs = append(errs, validateSubjectScope(s.UpdateClusterPolicy, fldPath.Child("updateClusterPolicy"), topo)...)
	}
	if r := s.DeleteClusterPolicy; r != nil {
		actions++
		if _, ok := clusterKinds[r.Kind]; !ok || r.Name == "" {
			errs = append(errs, field.Invalid(fldPath.Child("deleteClusterPolicy"), r.Kind+" "+r.Name, fmt.Sprintf("set kind (one of %s) and name of the cluster-wide policy to delete", strings.Join(slices.Sorted(maps.Keys(clusterKinds)), ", "))))
		}
	}
	if s.CreatePolicy != nil {
		actions++
		errs = append(errs, validatePolicyRefs(s.CreatePolicy, fldPath.Child("createPolicy"), topo)...)
	}
	if s.UpdatePolicy != nil {
		actions++
		errs = append(errs, validatePolicyRefs(s.UpdatePolicy, fldPath.Child("updatePolicy"), topo)...)
	}
	if s.DeletePolicy != nil {
		actions++
		if s.DeletePolicy.Namespace == "" || s.DeletePolicy.Name == "" {
			errs = append(errs, field.Required(fldPath.Child("deletePolicy"), "set namespace and name of the policy to delete"))
		}
	}
	if l := s.SetPodLabels; l != nil {
		actions++
		if topo.Pod(l.Pod) == nil {
			errs = append(errs, field.NotFound(fldPath.Child("setPodLabels", "pod"), l.Pod))
		}
		errs = append(errs, metav1validation.ValidateLabels(l.Labels, fldPath.Child("setPodLabels", "labels"))...)
	}
	if l := s.SetNamespaceLabels; l != nil {
		actions++
		if topo.Namespace(l.Namespace) == nil {
			errs = append(errs, field.NotFound(fldPath.Child("setNamespaceLabels", "namespace"), l.Namespace))
		}
		errs = append(errs, metav1validation.ValidateLabels(l.Labels, fldPath.Child("setNamespaceLabels", "labels"))...)
		if _, ok := l.Labels[topology.NamespaceNameLabel]; ok {
			errs = append(errs, field.Forbidden(fldPath.Child("setNamespaceLabels", "labels").Key(topology.NamespaceNameLabel), "the control plane sets this label and it is immutable: remove it"))
		}
	}
	if actions != 1 {
		errs = append(errs, field.Invalid(fldPath, actions, "a step does exactly one of createPolicy, updatePolicy, deletePolicy, createClusterPolicy, updateClusterPolicy, deleteClusterPolicy, setPodLabels, setNamespaceLabels"))
	}
	errs = append(errs, validateExpect(s.Expect, fldPath.Child("expect"), topo)...)
	errs = append(errs, validateProbes(s.Probes, fldPath.Child("probes"), topo)...)
	return errs
}

func validateExpect(tables []PinnedTable, fldPath *field.Path, topo *topology.Topology) field.ErrorList {
	var errs field.ErrorList
	seen := map[reachability.Key]bool{}
	matrix := topo.MatrixKeys()
	for i, pt := range tables {
		path := fldPath.Index(i)
		errs = append(errs, validatePortProtocol(pt.Port, pt.Protocol, path)...)
		key := reachability.Key{Port: pt.Port, Protocol: pt.Protocol}
		if seen[key] {
			errs = append(errs, field.Duplicate(path, key.String()))
		}
		seen[key] = true
		t, err := reachability.Parse(key, pt.Table)
		if err != nil {
			errs = append(errs, field.Invalid(path.Child("table"), field.OmitValueType{}, err.Error()))
			continue
		}
		var diffs []string
		if d := setDiff(t.From, matrix); d != "" {
			diffs = append(diffs, "rows"+d)
		}
		if d := setDiff(t.To, matrix); d != "" {
			diffs = append(diffs, "columns"+d)
		}
		if len(diffs) > 0 {
			errs = append(errs, field.Invalid(path.Child("table"), field.OmitValueType{}, fmt.Sprintf("rows and columns must be exactly the matrix endpoints %v: %s", matrix, strings.Join(diffs, "; "))))
		}
	}
	return errs
}

func validateProbes(probes []Probe, fldPath *field.Path, topo *topology.Topology) field.ErrorList {
	var errs field.ErrorList
	eps, _ := topo.Endpoints()
	known := map[string]bool{}
	for _, e := range eps {
		known[e.Key] = true
	}
	for i, p := range probes {
		path := fldPath.Index(i)
		if !known[p.From] {
			errs = append(errs, field.NotFound(path.Child("from"), p.From))
		}
		if !known[p.To] {
			errs = append(errs, field.NotFound(path.Child("to"), p.To))
		}
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		errs = append(errs, validatePortProtocol(p.Port, proto, path)...)
		if p.Expect != "" && p.Expect != ExpectAllowed && p.Expect != ExpectBlocked {
			errs = append(errs, field.NotSupported(path.Child("expect"), p.Expect, []string{ExpectAllowed, ExpectBlocked}))
		}
	}
	return errs
}

func validatePortProtocol(port int32, proto corev1.Protocol, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsValidPortNum(int(port)) {
		errs = append(errs, field.Invalid(fldPath.Child("port"), port, msg))
	}
	return append(errs, model.ValidateProtocol(proto, fldPath.Child("protocol"))...)
}

// setDiff describes how got differs from want as a set, or returns "".
func setDiff(got, want []string) string {
	var missing, extra []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for i, g := range got {
		if !slices.Contains(want, g) || slices.Index(got, g) != i {
			extra = append(extra, g)
		}
	}
	var d string
	if len(missing) > 0 {
		d += fmt.Sprintf(" missing %v", missing)
	}
	if len(extra) > 0 {
		d += fmt.Sprintf(" unexpected or repeated %v", extra)
	}
	return d
}

// clusterKinds are the kinds a deleteClusterPolicy step may name.
var clusterKinds = func() map[string]bool {
	kinds := map[string]bool{}
	for _, r := range clusterpolicy.Resources {
		kinds[r.Kind] = true
	}
	return kinds
}()
