package enforcer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
)

// ClusterWideGroup is the API group of SIG Network's network-policy-api.
const ClusterWideGroup = "policy.networking.k8s.io"

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// ClusterWideCRDObjects reads the CRDs of ClusterWideGroup from the
// driver's files; a file may hold other objects too (Calico's crds.yaml
// holds all of Calico's), which are left to the driver.
func ClusterWideCRDObjects(ctx context.Context, env Env, crds CRDs) ([]*unstructured.Unstructured, error) {
	dir, err := env.Builder.ModuleDir(ctx, crds.Module, crds.Version)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, f := range crds.Files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, fmt.Errorf("reading %s of %s@%s: %w", f, crds.Module, crds.Version, err)
		}
		objs, err := splitManifest(f, data)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
			if o.GetKind() == "CustomResourceDefinition" && group == ClusterWideGroup {
				out = append(out, o)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s@%s: no CRD of %s in %v", crds.Module, crds.Version, ClusterWideGroup, crds.Files)
	}
	return out, nil
}

// InstallClusterWideCRDs makes the cluster serve exactly the cluster-wide
// policy API the driver's enforcer implements: its CRDs applied and
// established, and every other CRD of the group deleted. The local
// cluster keeps its etcd from one `up` to the next, so an earlier
// enforcer's CRDs would otherwise stay, and an API served that nothing
// enforces reads, rightly, as a failure of the enforcer.
func InstallClusterWideCRDs(ctx context.Context, env Env, drv Driver) (installed []string, err error) {
	var want []*unstructured.Unstructured
	if cw, ok := drv.(ClusterWidePolicies); ok {
		if want, err = ClusterWideCRDObjects(ctx, env, cw.ClusterWideCRDs()); err != nil {
			return nil, err
		}
	}
	dyn, err := adminClient(env)
	if err != nil {
		return nil, err
	}
	for _, o := range want {
		installed = append(installed, o.GetName())
	}
	list, err := dyn.Resource(crdResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing CRDs: %w", err)
	}
	for _, crd := range list.Items {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		if group != ClusterWideGroup || slices.Contains(installed, crd.GetName()) {
			continue
		}
		if err := dyn.Resource(crdResource).Delete(ctx, crd.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("deleting CRD %s, which enforcer %s does not implement: %w", crd.GetName(), drv.Name(), err)
		}
		// Gone, not terminating: until then discovery still lists it.
		err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
			_, err := dyn.Resource(crdResource).Get(ctx, crd.GetName(), metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			return nil, fmt.Errorf("CRD %s still there 60 s after its deletion: %w", crd.GetName(), err)
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	return installed, applyEstablished(ctx, dyn, want)
}
