package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"

	"github.com/netpol-conformance/netpol-conformance/clusterpolicy"
	"github.com/netpol-conformance/netpol-conformance/record"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

// ClusterPolicyAPIs is what the cluster serves of the cluster-wide policy
// APIs: for each kind, the version the suite sends it as (the newest
// served).
type ClusterPolicyAPIs map[string]clusterpolicy.Resource

// Serves reports whether every kind of api is served.
func (s ClusterPolicyAPIs) Serves(api clusterpolicy.API) bool {
	for _, r := range clusterpolicy.Resources {
		if _, ok := s[r.Kind]; r.API == api && !ok {
			return false
		}
	}
	return true
}

// NotServed says which kinds of api the cluster lacks, "" when none.
func (s ClusterPolicyAPIs) NotServed(api clusterpolicy.API) string {
	var missing []string
	seen := map[string]bool{}
	for _, r := range clusterpolicy.Resources {
		if _, ok := s[r.Kind]; r.API == api && !ok && !seen[r.Kind] {
			seen[r.Kind] = true
			missing = append(missing, r.Kind)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	var versions []string
	for _, r := range clusterpolicy.Resources {
		if r.API == api {
			versions = append(versions, r.Version.GroupVersion().String()+" "+r.Version.Resource)
		}
	}
	return fmt.Sprintf("the cluster does not serve %s (looked for %s): its CRDs are not installed, so no enforcer here implements them", strings.Join(missing, ", "), strings.Join(versions, ", "))
}

// DiscoverClusterPolicyAPIs asks the API server which cluster-wide policy
// kinds and versions it serves.
func DiscoverClusterPolicyAPIs(disc discovery.DiscoveryInterface) (ClusterPolicyAPIs, error) {
	served := ClusterPolicyAPIs{}
	for _, r := range clusterpolicy.Resources {
		if _, done := served[r.Kind]; done {
			continue // a newer version of the kind is served
		}
		list, err := disc.ServerResourcesForGroupVersion(r.Version.GroupVersion().String())
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("discovering %s: %w", r.Version.GroupVersion(), err)
		}
		for _, res := range list.APIResources {
			if res.Name == r.Version.Resource {
				served[r.Kind] = r
			}
		}
	}
	return served, nil
}

// ClusterPolicy returns the object to send for o, its CRD's defaults
// applied: named for this run
// (cluster-scoped names are shared by every run; the one
// BaselineAdminNetworkPolicy must be named default), labelled with the
// run, every kubernetes.io/metadata.name value renamed to the real
// namespace, and its subject limited to this run's namespaces, so that
// whatever a case says, no pod but the suite's is ever subject to it.
func (n Names) ClusterPolicy(o *clusterpolicy.Object, runID string) (*unstructured.Unstructured, error) {
	out := o.Defaulted()
	subject := out.SubjectNamespaces()
	if subject == nil {
		return nil, errors.New("no subject")
	}
	for _, sel := range out.NamespaceSelectors() {
		n.renameNamespaceSelector(sel)
	}
	subject.MatchExpressions = append(subject.MatchExpressions,
		metav1.LabelSelectorRequirement{Key: RunLabel, Operator: metav1.LabelSelectorOpIn, Values: []string{runID}})
	meta := out.Meta()
	meta.Name = clusterName(o, runID)
	if meta.Labels == nil {
		meta.Labels = map[string]string{}
	}
	meta.Labels[RunLabel] = runID
	meta.ResourceVersion = ""
	data, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return u, nil
}

// clusterName is the name o has in the cluster: a BaselineAdminNetworkPolicy
// is always "default" (its CRD allows no other), every other kind is named
// for the run.
func clusterName(o *clusterpolicy.Object, runID string) string {
	if o.Kind() == clusterpolicy.KindBaselineAdminNetworkPolicy {
		return o.Name()
	}
	return RunObjectName(runID, o.Name())
}

// RunObjectName is the cluster's name for a cluster-scoped object of a
// run: prefixed, so runs on one cluster do not collide.
func RunObjectName(runID, name string) string { return "netpol-" + runID + "-" + name }

// applyClusterPolicies brings the cluster's cluster-wide policies of this
// run to want (logical objects), each only where it differs.
func (c *Cluster) applyClusterPolicies(ctx context.Context, want []clusterpolicy.Object) error {
	if len(want) > 0 && c.dyn == nil {
		return errors.New("cluster-wide policies need a dynamic client, which this run has none of")
	}
	for i := range c.applied.cluster {
		o := &c.applied.cluster[i]
		if slicesIndex(want, o) < 0 {
			if err := c.deleteClusterPolicy(ctx, o); err != nil {
				return err
			}
		}
	}
	for i := range want {
		o := &want[i]
		res, err := c.servedResource(o)
		if err != nil {
			return err
		}
		obj, err := c.names.ClusterPolicy(o, c.opts.RunID)
		if err != nil {
			return fmt.Errorf("%s: %w", o.Ref(), err)
		}
		// Sent as the served version of the kind: ClusterNetworkPolicy's
		// v1alpha2 and v1beta1 have one schema.
		obj.SetAPIVersion(res.Version.GroupVersion().String())
		api := c.dyn.Resource(res.Version)
		j := slicesIndex(c.applied.cluster, o)
		switch {
		case j < 0:
			// Strict: a field the served CRD lacks (an experimental one
			// on a standard-channel CRD) is an error, not silently
			// pruned into a different policy.
			if _, err := api.Create(ctx, obj, metav1.CreateOptions{FieldValidation: metav1.FieldValidationStrict}); err != nil {
				return fmt.Errorf("creating %s %s: %w", o.Kind(), obj.GetName(), err)
			}
		case !equality.Semantic.DeepEqual(c.applied.cluster[j], *o):
			cur, err := api.Get(ctx, obj.GetName(), metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("getting %s %s: %w", o.Kind(), obj.GetName(), err)
			}
			obj.SetResourceVersion(cur.GetResourceVersion())
			if _, err := api.Update(ctx, obj, metav1.UpdateOptions{FieldValidation: metav1.FieldValidationStrict}); err != nil {
				return fmt.Errorf("updating %s %s: %w", o.Kind(), obj.GetName(), err)
			}
		}
	}
	c.applied.cluster = make([]clusterpolicy.Object, len(want))
	for i := range want {
		c.applied.cluster[i] = *want[i].DeepCopy()
	}
	return nil
}

func slicesIndex(objs []clusterpolicy.Object, o *clusterpolicy.Object) int {
	for i := range objs {
		if objs[i].SameObject(o) {
			return i
		}
	}
	return -1
}

func (c *Cluster) servedResource(o *clusterpolicy.Object) (clusterpolicy.Resource, error) {
	res, ok := c.ClusterAPIs[o.Kind()]
	if !ok {
		return res, fmt.Errorf("%s: the cluster does not serve %s", o.Ref(), o.Kind())
	}
	return res, nil
}

func (c *Cluster) deleteClusterPolicy(ctx context.Context, o *clusterpolicy.Object) error {
	res, err := c.servedResource(o)
	if err != nil {
		return err
	}
	name := clusterName(o, c.opts.RunID)
	err = c.dyn.Resource(res.Version).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s %s: %w", o.Kind(), name, err)
	}
	return nil
}

// RunClusterPolicies lists the cluster-wide policies of one run, or of
// every run when runID is empty, as "kind/name".
func RunClusterPolicies(ctx context.Context, dyn dynamic.Interface, served ClusterPolicyAPIs, runID string) ([]ClusterObject, error) {
	sel, err := runSelector(runID)
	if err != nil {
		return nil, err
	}
	var out []ClusterObject
	for _, res := range served {
		list, err := dyn.Resource(res.Version).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return nil, fmt.Errorf("listing %s labelled %s: %w", res.Version.Resource, sel, err)
		}
		for _, item := range list.Items {
			if item.GetDeletionTimestamp() == nil {
				out = append(out, ClusterObject{Resource: res, Name: item.GetName()})
			}
		}
	}
	return out, nil
}

// ClusterObject is one cluster-scoped object of a run.
type ClusterObject struct {
	Resource clusterpolicy.Resource
	Name     string
}

func (o ClusterObject) String() string { return o.Resource.Short + "/" + o.Name }

// DeleteClusterObjects deletes the objects; one already gone is fine.
func DeleteClusterObjects(ctx context.Context, dyn dynamic.Interface, objs []ClusterObject) error {
	var errs []error
	for _, o := range objs {
		if err := dyn.Resource(o.Resource.Version).Delete(ctx, o.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting %s: %w", o, err))
		}
	}
	return errors.Join(errs...)
}

// ForeignClusterPolicies lists the cluster-wide policies that are not the
// suite's and whose subject selects a namespace of this run: they decide
// traffic of the suite's pods that no case accounts for.
func (c *Cluster) ForeignClusterPolicies(ctx context.Context) ([]string, error) {
	if c.dyn == nil {
		return nil, nil
	}
	var nsLabels []labels.Set
	for _, name := range topology.StandardNamespaces {
		ns, err := c.client.CoreV1().Namespaces().Get(ctx, c.names.Real(name), metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("getting namespace %s: %w", c.names.Real(name), err)
		}
		nsLabels = append(nsLabels, labels.Set(ns.Labels))
	}
	var out []string
	for _, res := range c.ClusterAPIs {
		list, err := c.dyn.Resource(res.Version).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", res.Version.Resource, err)
		}
		for _, item := range list.Items {
			if _, ours := item.GetLabels()[RunLabel]; ours {
				continue
			}
			data, err := item.MarshalJSON()
			if err != nil {
				return nil, err
			}
			var o clusterpolicy.Object
			if err := json.Unmarshal(data, &o); err != nil {
				// A field this version does not know: it may select
				// anything.
				out = append(out, fmt.Sprintf("%s/%s (not readable here: %v)", res.Short, item.GetName(), err))
				continue
			}
			sel, err := metav1.LabelSelectorAsSelector(o.SubjectNamespaces())
			if err != nil || o.SubjectNamespaces() == nil {
				continue
			}
			for _, l := range nsLabels {
				if sel.Matches(l) {
					out = append(out, o.Ref())
					break
				}
			}
		}
	}
	return out, nil
}

// renameNamespaceSelector renames every kubernetes.io/metadata.name value
// of sel to the real namespace, since the API server sets that label to
// the real name.
func (n Names) renameNamespaceSelector(sel *metav1.LabelSelector) {
	if sel == nil {
		return
	}
	if v, ok := sel.MatchLabels[topology.NamespaceNameLabel]; ok {
		sel.MatchLabels[topology.NamespaceNameLabel] = n.Real(v)
	}
	for i := range sel.MatchExpressions {
		if sel.MatchExpressions[i].Key != topology.NamespaceNameLabel {
			continue
		}
		for j, v := range sel.MatchExpressions[i].Values {
			sel.MatchExpressions[i].Values[j] = n.Real(v)
		}
	}
}

// bundleVersionAnnotation is where network-policy-api's CRDs say which
// release they are from.
const bundleVersionAnnotation = "policy.networking.k8s.io/bundle-version"

// ServedAPIs describes what the cluster serves for the record, with each
// CRD's network-policy-api release where the CRD can be read (listing CRDs
// needs a permission a user's credentials may lack: the release is then
// left empty).
func ServedAPIs(ctx context.Context, dyn dynamic.Interface, served ClusterPolicyAPIs) []record.ServedAPI {
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	var out []record.ServedAPI
	for _, r := range clusterpolicy.Resources {
		if got, ok := served[r.Kind]; !ok || got != r {
			continue
		}
		api := record.ServedAPI{Kind: r.Kind, APIVersion: r.Version.GroupVersion().String()}
		if dyn != nil {
			if crd, err := dyn.Resource(crds).Get(ctx, r.Version.Resource+"."+r.Version.Group, metav1.GetOptions{}); err == nil {
				api.BundleVersion = crd.GetAnnotations()[bundleVersionAnnotation]
			}
		}
		out = append(out, api)
	}
	return out
}

// ForeignBaseline says why this run cannot create its
// BaselineAdminNetworkPolicy: the cluster has one (there is at most one,
// named default) that is not the run's. "" when it can.
func (c *Cluster) ForeignBaseline(ctx context.Context) (string, error) {
	res, ok := c.ClusterAPIs[clusterpolicy.KindBaselineAdminNetworkPolicy]
	if !ok || c.dyn == nil {
		return "", nil
	}
	obj, err := c.dyn.Resource(res.Version).Get(ctx, "default", metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("getting BaselineAdminNetworkPolicy default: %w", err)
	case obj.GetLabels()[RunLabel] == c.opts.RunID:
		return "", nil
	}
	return "the cluster has a BaselineAdminNetworkPolicy default of its own (there can be only one): the suite will not replace it, so the cases with one are skipped", nil
}
