// Package clusterpolicy holds the cluster-wide policy kinds of SIG
// Network's network-policy-api (sigs.k8s.io/network-policy-api v0.3.0) as
// scenarios and users' manifests carry them: one Object for any kind and
// version, decoded strictly, validated as the CRDs validate, and handed to
// the reference model. It is pure: the cluster package sends Objects to a
// cluster.
package clusterpolicy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "sigs.k8s.io/json"

	anpv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnpv1alpha2 "sigs.k8s.io/network-policy-api/apis/v1alpha2"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netpol-conformance/netpol-conformance/model"
)

// API is one generation of the cluster-wide policy API. Clusters serve
// one, the other or neither, and an enforcer implements at most one.
type API string

const (
	// AdminAPI is AdminNetworkPolicy and BaselineAdminNetworkPolicy,
	// policy.networking.k8s.io/v1alpha1 (network-policy-api v0.1.x).
	AdminAPI API = "AdminNetworkPolicy"
	// ClusterAPI is ClusterNetworkPolicy, v1alpha2 from network-policy-api
	// v0.2.0 and v1beta1 from v0.3.0.
	ClusterAPI API = "ClusterNetworkPolicy"
)

// Kinds.
const (
	KindAdminNetworkPolicy         = "AdminNetworkPolicy"
	KindBaselineAdminNetworkPolicy = "BaselineAdminNetworkPolicy"
	KindClusterNetworkPolicy       = "ClusterNetworkPolicy"
)

// Resource is one kind at one version, as a cluster serves it.
type Resource struct {
	API     API
	Kind    string
	Version schema.GroupVersionResource
	// Short is how a decision names the kind: "anp/<name>".
	Short string
}

// Resources lists every kind and version the project understands, newest
// version of a kind first.
var Resources = []Resource{
	{API: AdminAPI, Kind: KindAdminNetworkPolicy, Short: model.ShortAdminNetworkPolicy, Version: gvr(anpv1alpha1.GroupVersion, "adminnetworkpolicies")},
	{API: AdminAPI, Kind: KindBaselineAdminNetworkPolicy, Short: model.ShortBaselineAdminNetworkPolicy, Version: gvr(anpv1alpha1.GroupVersion, "baselineadminnetworkpolicies")},
	{API: ClusterAPI, Kind: KindClusterNetworkPolicy, Short: model.ShortClusterNetworkPolicy, Version: gvr(cnpv1beta1.GroupVersion, "clusternetworkpolicies")},
	{API: ClusterAPI, Kind: KindClusterNetworkPolicy, Short: model.ShortClusterNetworkPolicy, Version: gvr(cnpv1alpha2.GroupVersion, "clusternetworkpolicies")},
}

func gvr(gv metav1.GroupVersion, resource string) schema.GroupVersionResource {
	return schema.GroupVersion(gv).WithResource(resource)
}

// APIs lists the generations once.
var APIs = []API{AdminAPI, ClusterAPI}

// ResourceOf returns the Resource of a kind at an apiVersion.
func ResourceOf(apiVersion, kind string) (Resource, bool) {
	for _, r := range Resources {
		if r.Kind == kind && r.Version.GroupVersion().String() == apiVersion {
			return r, true
		}
	}
	return Resource{}, false
}

// Object is one cluster-wide policy: exactly one of its pointers is set.
// A ClusterNetworkPolicy is held as v1beta1 whatever version it was
// written in (the schemas are the same); APIVersion keeps the one it was
// written in, which is the one it is sent as.
type Object struct {
	AdminNetworkPolicy         *anpv1alpha1.AdminNetworkPolicy
	BaselineAdminNetworkPolicy *anpv1alpha1.BaselineAdminNetworkPolicy
	ClusterNetworkPolicy       *cnpv1beta1.ClusterNetworkPolicy
	APIVersion                 string
}

// Kind is the object's kind.
func (o *Object) Kind() string {
	switch {
	case o.AdminNetworkPolicy != nil:
		return KindAdminNetworkPolicy
	case o.BaselineAdminNetworkPolicy != nil:
		return KindBaselineAdminNetworkPolicy
	default:
		return KindClusterNetworkPolicy
	}
}

// Resource is the object's kind and version.
func (o *Object) Resource() Resource {
	r, _ := ResourceOf(o.APIVersion, o.Kind())
	return r
}

// Name is the object's name.
func (o *Object) Name() string {
	switch {
	case o.AdminNetworkPolicy != nil:
		return o.AdminNetworkPolicy.Name
	case o.BaselineAdminNetworkPolicy != nil:
		return o.BaselineAdminNetworkPolicy.Name
	case o.ClusterNetworkPolicy != nil:
		return o.ClusterNetworkPolicy.Name
	}
	return ""
}

// Ref names the object as the model's decisions do: "cnp/deny-db".
func (o *Object) Ref() string { return o.Resource().Short + "/" + o.Name() }

// SameObject reports whether o and p are the same object in a cluster:
// same kind and name.
func (o *Object) SameObject(p *Object) bool { return o.Kind() == p.Kind() && o.Name() == p.Name() }

// DeepCopy copies o.
func (o *Object) DeepCopy() *Object {
	out := &Object{APIVersion: o.APIVersion}
	switch {
	case o.AdminNetworkPolicy != nil:
		out.AdminNetworkPolicy = o.AdminNetworkPolicy.DeepCopy()
	case o.BaselineAdminNetworkPolicy != nil:
		out.BaselineAdminNetworkPolicy = o.BaselineAdminNetworkPolicy.DeepCopy()
	case o.ClusterNetworkPolicy != nil:
		out.ClusterNetworkPolicy = o.ClusterNetworkPolicy.DeepCopy()
	}
	return out
}

// SubjectNamespaces is the selector of the namespaces whose pods the
// policy applies to: its namespaces subject, or its pods subject's
// namespaceSelector.
func (o *Object) SubjectNamespaces() *metav1.LabelSelector {
	switch {
	case o.AdminNetworkPolicy != nil:
		return anpSubjectNamespaces(o.AdminNetworkPolicy.Spec.Subject)
	case o.BaselineAdminNetworkPolicy != nil:
		return anpSubjectNamespaces(o.BaselineAdminNetworkPolicy.Spec.Subject)
	case o.ClusterNetworkPolicy != nil:
		s := o.ClusterNetworkPolicy.Spec.Subject
		if s.Pods != nil {
			return &s.Pods.NamespaceSelector
		}
		return s.Namespaces
	}
	return nil
}

// Meta is the object's metadata, to change in place.
func (o *Object) Meta() *metav1.ObjectMeta {
	switch {
	case o.AdminNetworkPolicy != nil:
		return &o.AdminNetworkPolicy.ObjectMeta
	case o.BaselineAdminNetworkPolicy != nil:
		return &o.BaselineAdminNetworkPolicy.ObjectMeta
	case o.ClusterNetworkPolicy != nil:
		return &o.ClusterNetworkPolicy.ObjectMeta
	}
	return &metav1.ObjectMeta{}
}

// NamespaceSelectors returns every namespace selector of the object, the
// subject's and the peers', to change in place.
func (o *Object) NamespaceSelectors() []*metav1.LabelSelector {
	var out []*metav1.LabelSelector
	add := func(namespaces *metav1.LabelSelector, podNamespaces *metav1.LabelSelector) {
		if namespaces != nil {
			out = append(out, namespaces)
		}
		if podNamespaces != nil {
			out = append(out, podNamespaces)
		}
	}
	anpPods := func(p *anpv1alpha1.NamespacedPod) *metav1.LabelSelector {
		if p == nil {
			return nil
		}
		return &p.NamespaceSelector
	}
	cnpPods := func(p *cnpv1beta1.NamespacedPod) *metav1.LabelSelector {
		if p == nil {
			return nil
		}
		return &p.NamespaceSelector
	}
	switch {
	case o.AdminNetworkPolicy != nil:
		s := &o.AdminNetworkPolicy.Spec
		add(s.Subject.Namespaces, anpPods(s.Subject.Pods))
		for i := range s.Ingress {
			for j := range s.Ingress[i].From {
				add(s.Ingress[i].From[j].Namespaces, anpPods(s.Ingress[i].From[j].Pods))
			}
		}
		for i := range s.Egress {
			for j := range s.Egress[i].To {
				add(s.Egress[i].To[j].Namespaces, anpPods(s.Egress[i].To[j].Pods))
			}
		}
	case o.BaselineAdminNetworkPolicy != nil:
		s := &o.BaselineAdminNetworkPolicy.Spec
		add(s.Subject.Namespaces, anpPods(s.Subject.Pods))
		for i := range s.Ingress {
			for j := range s.Ingress[i].From {
				add(s.Ingress[i].From[j].Namespaces, anpPods(s.Ingress[i].From[j].Pods))
			}
		}
		for i := range s.Egress {
			for j := range s.Egress[i].To {
				add(s.Egress[i].To[j].Namespaces, anpPods(s.Egress[i].To[j].Pods))
			}
		}
	case o.ClusterNetworkPolicy != nil:
		s := &o.ClusterNetworkPolicy.Spec
		add(s.Subject.Namespaces, cnpPods(s.Subject.Pods))
		for i := range s.Ingress {
			for j := range s.Ingress[i].From {
				add(s.Ingress[i].From[j].Namespaces, cnpPods(s.Ingress[i].From[j].Pods))
			}
		}
		for i := range s.Egress {
			for j := range s.Egress[i].To {
				add(s.Egress[i].To[j].Namespaces, cnpPods(s.Egress[i].To[j].Pods))
			}
		}
	}
	return out
}

func anpSubjectNamespaces(s anpv1alpha1.AdminNetworkPolicySubject) *metav1.LabelSelector {
	if s.Pods != nil {
		return &s.Pods.NamespaceSelector
	}
	return s.Namespaces
}

// typed is the API object o holds.
func (o *Object) typed() any {
	switch {
	case o.AdminNetworkPolicy != nil:
		return o.AdminNetworkPolicy
	case o.BaselineAdminNetworkPolicy != nil:
		return o.BaselineAdminNetworkPolicy
	default:
		return o.ClusterNetworkPolicy
	}
}

// MarshalJSON writes the object as the API object it holds, under the
// apiVersion it was written in.
func (o Object) MarshalJSON() ([]byte, error) {
	data, err := json.Marshal(o.typed())
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	m["apiVersion"], m["kind"] = o.APIVersion, o.Kind()
	// A status is the implementation's to write, never a scenario's.
	delete(m, "status")
	return json.Marshal(m)
}

// UnmarshalJSON decodes one object by its apiVersion and kind, strictly:
// every unknown or duplicated field is an error naming it.
func (o *Object) UnmarshalJSON(data []byte) error {
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return err
	}
	res, ok := ResourceOf(meta.APIVersion, meta.Kind)
	if !ok {
		return fmt.Errorf("apiVersion %q, kind %q is not a cluster-wide policy: want one of %s", meta.APIVersion, meta.Kind, known())
	}
	*o = Object{APIVersion: meta.APIVersion}
	var into any
	var alpha2 *cnpv1alpha2.ClusterNetworkPolicy
	switch {
	case res.Kind == KindAdminNetworkPolicy:
		o.AdminNetworkPolicy = &anpv1alpha1.AdminNetworkPolicy{}
		into = o.AdminNetworkPolicy
	case res.Kind == KindBaselineAdminNetworkPolicy:
		o.BaselineAdminNetworkPolicy = &anpv1alpha1.BaselineAdminNetworkPolicy{}
		into = o.BaselineAdminNetworkPolicy
	case res.Version.Version == cnpv1alpha2.GroupVersion.Version:
		alpha2 = &cnpv1alpha2.ClusterNetworkPolicy{}
		into = alpha2
	default:
		o.ClusterNetworkPolicy = &cnpv1beta1.ClusterNetworkPolicy{}
		into = o.ClusterNetworkPolicy
	}
	strict, err := kjson.UnmarshalStrict(data, into, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return fmt.Errorf("%s %q: %w", meta.Kind, meta.Metadata.Name, err)
	}
	if len(strict) > 0 {
		msgs := make([]string, len(strict))
		for i, e := range strict {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("%s %q: %s: remove or fix the spelling of each", meta.Kind, meta.Metadata.Name, strings.Join(msgs, "; "))
	}
	if alpha2 != nil {
		cnp, err := model.ClusterNetworkPolicyFromV1alpha2(alpha2)
		if err != nil {
			return err
		}
		o.ClusterNetworkPolicy = &cnp
	}
	return nil
}

func known() string {
	var b bytes.Buffer
	for i, r := range Resources {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", r.Version.GroupVersion(), r.Kind)
	}
	return b.String()
}

// Model gathers objects into the model's input.
func Model(objs []Object) model.ClusterPolicies {
	var out model.ClusterPolicies
	for i := range objs {
		switch o := objs[i].DeepCopy(); {
		case o.AdminNetworkPolicy != nil:
			out.AdminNetworkPolicies = append(out.AdminNetworkPolicies, *o.AdminNetworkPolicy)
		case o.BaselineAdminNetworkPolicy != nil:
			out.BaselineAdminNetworkPolicies = append(out.BaselineAdminNetworkPolicies, *o.BaselineAdminNetworkPolicy)
		case o.ClusterNetworkPolicy != nil:
			out.ClusterNetworkPolicies = append(out.ClusterNetworkPolicies, *o.ClusterNetworkPolicy)
		}
	}
	return out
}

// APIsOf lists the generations objs use, in APIs order.
func APIsOf(objs []Object) []API {
	var out []API
	for _, api := range APIs {
		for i := range objs {
			if objs[i].Resource().API == api {
				out = append(out, api)
				break
			}
		}
	}
	return out
}

// Canary is the smallest policy of api that an implementation must
// enforce: an Admin-tier Deny of everything from the namespace labelled
// ns=from into the one labelled ns=to.
func Canary(api API, name, to, from string) Object {
	subject := &metav1.LabelSelector{MatchLabels: map[string]string{"ns": to}}
	peer := &metav1.LabelSelector{MatchLabels: map[string]string{"ns": from}}
	meta := metav1.ObjectMeta{Name: name}
	if api == AdminAPI {
		return Object{APIVersion: anpv1alpha1.GroupVersion.String(), AdminNetworkPolicy: &anpv1alpha1.AdminNetworkPolicy{
			ObjectMeta: meta,
			Spec: anpv1alpha1.AdminNetworkPolicySpec{
				Subject: anpv1alpha1.AdminNetworkPolicySubject{Namespaces: subject},
				Ingress: []anpv1alpha1.AdminNetworkPolicyIngressRule{{Action: anpv1alpha1.AdminNetworkPolicyRuleActionDeny,
					From: []anpv1alpha1.AdminNetworkPolicyIngressPeer{{Namespaces: peer}}}},
			},
		}}
	}
	return Object{APIVersion: cnpv1beta1.GroupVersion.String(), ClusterNetworkPolicy: &cnpv1beta1.ClusterNetworkPolicy{
		ObjectMeta: meta,
		Spec: cnpv1beta1.ClusterNetworkPolicySpec{
			Tier:    cnpv1beta1.AdminTier,
			Subject: cnpv1beta1.ClusterNetworkPolicySubject{Namespaces: subject},
			Ingress: []cnpv1beta1.ClusterNetworkPolicyIngressRule{{Action: cnpv1beta1.ClusterNetworkPolicyRuleActionDeny,
				From: []cnpv1beta1.ClusterNetworkPolicyIngressPeer{{Namespaces: peer}}}},
		},
	}}
}

// Profile is the network-policy-api conformance profile the object's kind
// belongs to (the suite's ConformanceProfileName): ClusterNetworkPolicy
// from v0.2.0, AdminNetworkPolicy and BaselineAdminNetworkPolicy before.
func (o *Object) Profile() string { return o.Kind() }

// Experimental features, named as network-policy-api's conformance suite
// names them (conformance/utils/suite/features.go, v0.1.x and v0.3.0):
// the fields of the experimental channel's CRDs.
const (
	featureNamedPorts      = "NamedPorts"
	featureEgressNodePeers = "EgressNodePeers"
)

// Features lists the experimental features the object uses, each prefixed
// with its profile ("ClusterNetworkPolicyNamedPorts").
func (o *Object) Features() []string {
	named, nodes := false, false
	anpPorts := func(ports *[]anpv1alpha1.AdminNetworkPolicyPort) {
		if ports != nil {
			for _, p := range *ports {
				named = named || p.NamedPort != nil
			}
		}
	}
	switch {
	case o.AdminNetworkPolicy != nil:
		s := &o.AdminNetworkPolicy.Spec
		for _, r := range s.Ingress {
			anpPorts(r.Ports)
		}
		for _, r := range s.Egress {
			anpPorts(r.Ports)
			for _, q := range r.To {
				nodes = nodes || q.Nodes != nil
			}
		}
	case o.BaselineAdminNetworkPolicy != nil:
		s := &o.BaselineAdminNetworkPolicy.Spec
		for _, r := range s.Ingress {
			anpPorts(r.Ports)
		}
		for _, r := range s.Egress {
			anpPorts(r.Ports)
			for _, q := range r.To {
				nodes = nodes || q.Nodes != nil
			}
		}
	case o.ClusterNetworkPolicy != nil:
		s := &o.ClusterNetworkPolicy.Spec
		for _, r := range s.Ingress {
			for _, p := range r.Protocols {
				named = named || p.DestinationNamedPort != ""
			}
		}
		for _, r := range s.Egress {
			for _, p := range r.Protocols {
				named = named || p.DestinationNamedPort != ""
			}
			for _, q := range r.To {
				nodes = nodes || q.Nodes != nil
			}
		}
	}
	var out []string
	if named {
		out = append(out, o.Profile()+featureNamedPorts)
	}
	if nodes {
		out = append(out, o.Profile()+featureEgressNodePeers)
	}
	return out
}

// Defaulted returns a copy of o with the CRDs' defaults applied: an
// AdminNetworkPolicy or BaselineAdminNetworkPolicy port's protocol is TCP
// where it is not set ("+kubebuilder:default=TCP"). The API server
// defaults only a field that is absent, and the typed object always
// writes this one (its JSON tag has no omitempty), as "" when unset: sent
// as is, the cluster would store a protocol of "".
func (o *Object) Defaulted() *Object {
	out := o.DeepCopy()
	tcp := func(ports *[]anpv1alpha1.AdminNetworkPolicyPort) {
		if ports == nil {
			return
		}
		for i := range *ports {
			p := &(*ports)[i]
			if p.PortNumber != nil && p.PortNumber.Protocol == "" {
				p.PortNumber.Protocol = corev1.ProtocolTCP
			}
			if p.PortRange != nil && p.PortRange.Protocol == "" {
				p.PortRange.Protocol = corev1.ProtocolTCP
			}
		}
	}
	switch {
	case out.AdminNetworkPolicy != nil:
		for i := range out.AdminNetworkPolicy.Spec.Ingress {
			tcp(out.AdminNetworkPolicy.Spec.Ingress[i].Ports)
		}
		for i := range out.AdminNetworkPolicy.Spec.Egress {
			tcp(out.AdminNetworkPolicy.Spec.Egress[i].Ports)
		}
	case out.BaselineAdminNetworkPolicy != nil:
		for i := range out.BaselineAdminNetworkPolicy.Spec.Ingress {
			tcp(out.BaselineAdminNetworkPolicy.Spec.Ingress[i].Ports)
		}
		for i := range out.BaselineAdminNetworkPolicy.Spec.Egress {
			tcp(out.BaselineAdminNetworkPolicy.Spec.Egress[i].Ports)
		}
	}
	return out
}
