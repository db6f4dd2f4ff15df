package enforcer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/netpol-conformance/netpol-conformance/localcluster/gobuild"
)

// The Kubernetes datastore of Calico is CRDs in the crd.projectcalico.org
// group; what calico-node's startup and libcalico-go's initialisation
// would create, the driver creates (docs/local-cluster.md, Calico's "API
// objects"). Every object comes from the pinned module's own manifests,
// read at run time, or is built here from the values libcalico-go uses.
const (
	calicoFieldManager = "netpol-conformance-local"
	// calicoCRDsManifest holds Calico's CRDs and the AdminNetworkPolicy
	// ones Felix also watches.
	calicoCRDsManifest = "manifests/crds.yaml"
	// calicoNodeManifest has the ClusterRole of calico-node (Felix) for a
	// policy-only install; calicoFullManifest has the CNI plugin's: the
	// policy-only one cannot read clusterinformations and every sandbox
	// fails (docs/local-cluster.md, Calico's "API objects").
	calicoNodeManifest = "manifests/calico-policy-only.yaml"
	calicoFullManifest = "manifests/calico.yaml"
	calicoNodeRole     = "calico-node"
	calicoCNIRole      = "calico-cni-plugin"
)

// calicoTier is one tier that libcalico-go's EnsureInitialized creates
// (api/pkg/apis/projectcalico/v3/tier.go has the orders).
type calicoTier struct {
	name, defaultAction string
	order               float64
}

var calicoTiers = []calicoTier{
	{"adminnetworkpolicy", "Pass", 1_000},
	{"default", "Deny", 1_000_000},
	{"baselineadminnetworkpolicy", "Pass", 10_000_000},
}

// gvrs maps the kinds the driver applies to their resources; a kind not
// here is an error, not a guess.
var gvrs = map[string]schema.GroupVersionResource{
	"apiextensions.k8s.io/v1/CustomResourceDefinition": {Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"},
	"rbac.authorization.k8s.io/v1/ClusterRole":         {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"},
	"rbac.authorization.k8s.io/v1/ClusterRoleBinding":  {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"},
	"crd.projectcalico.org/v1/ClusterInformation":      {Group: "crd.projectcalico.org", Version: "v1", Resource: "clusterinformations"},
	"crd.projectcalico.org/v1/Tier":                    {Group: "crd.projectcalico.org", Version: "v1", Resource: "tiers"},
	"crd.projectcalico.org/v1/IPPool":                  {Group: "crd.projectcalico.org", Version: "v1", Resource: "ippools"},
}

func gvrOf(o *unstructured.Unstructured) (schema.GroupVersionResource, error) {
	key := o.GetAPIVersion() + "/" + o.GetKind()
	gvr, ok := gvrs[key]
	if !ok {
		return schema.GroupVersionResource{}, fmt.Errorf("%s %s: no resource known for kind %s", o.GetKind(), o.GetName(), key)
	}
	return gvr, nil
}

// splitManifest decodes a multi-document YAML manifest; empty documents
// (comments only) are skipped.
func splitManifest(name string, data []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for i, doc := range bytes.Split(data, []byte("\n---")) {
		m := map[string]any{}
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out, nil
}

// calicoManifestObjects picks from the module's manifests (path relative
// to the module root → content) every CRD of crds.yaml, the calico-node
// ClusterRole of the policy-only manifest and the CNI plugin's ClusterRole
// of calico.yaml, and binds both roles to user. Everything missing is
// reported at once.
func calicoManifestObjects(manifests map[string][]byte, user string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	var errs []error
	crds, err := splitManifest(calicoCRDsManifest, manifests[calicoCRDsManifest])
	if err != nil {
		errs = append(errs, err)
	}
	for _, o := range crds {
		if o.GetKind() != "CustomResourceDefinition" {
			errs = append(errs, fmt.Errorf("%s: unexpected %s %s", calicoCRDsManifest, o.GetKind(), o.GetName()))
			continue
		}
		out = append(out, o)
	}
	if len(crds) == 0 {
		errs = append(errs, fmt.Errorf("%s: no CustomResourceDefinition", calicoCRDsManifest))
	}
	for _, want := range []struct{ file, role string }{
		{calicoNodeManifest, calicoNodeRole},
		{calicoFullManifest, calicoCNIRole},
	} {
		objs, err := splitManifest(want.file, manifests[want.file])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var role *unstructured.Unstructured
		for _, o := range objs {
			if o.GetKind() == "ClusterRole" && o.GetName() == want.role {
				role = o
			}
		}
		if role == nil {
			errs = append(errs, fmt.Errorf("%s: no ClusterRole %s", want.file, want.role))
			continue
		}
		out = append(out, role, clusterRoleBinding("netpol-local:"+want.role, want.role, user))
	}
	return out, errors.Join(errs...)
}

func clusterRoleBinding(name, role, user string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1",
		"kind":       "ClusterRoleBinding",
		"metadata":   map[string]any{"name": name},
		"roleRef":    map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
		"subjects":   []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}},
	}}
}

// calicoDatastoreObjects are what libcalico-go's EnsureInitialized creates:
// ClusterInformation "default" with datastoreReady (Felix and the CNI
// plugin wait for it) and the three tiers; on namespace nodes also the IP
// pool calico-node's startup creates, with VXLAN always (calicoVXLAN).
func calicoDatastoreObjects(clusterGUID string, env Env) []*unstructured.Unstructured {
	out := []*unstructured.Unstructured{{Object: map[string]any{
		"apiVersion": "crd.projectcalico.org/v1",
		"kind":       "ClusterInformation",
		"metadata":   map[string]any{"name": "default"},
		"spec": map[string]any{
			"calicoVersion":  calicoRelease,
			"clusterGUID":    clusterGUID,
			"clusterType":    "k8s,kdd",
			"datastoreReady": true,
		},
	}}}
	for _, t := range calicoTiers {
		out = append(out, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "crd.projectcalico.org/v1",
			"kind":       "Tier",
			"metadata":   map[string]any{"name": t.name},
			"spec":       map[string]any{"order": t.order, "defaultAction": t.defaultAction},
		}})
	}
	if env.onFabric() {
		out = append(out, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "crd.projectcalico.org/v1",
			"kind":       "IPPool",
			"metadata":   map[string]any{"name": "default-ipv4-ippool"},
			"spec": map[string]any{
				"cidr":         env.ClusterCIDR,
				"vxlanMode":    "Always",
				"ipipMode":     "Never",
				"natOutgoing":  false,
				"nodeSelector": "all()",
			},
		}})
	}
	return out
}

// readCalicoManifests reads the manifests from the pinned module in the
// module cache (downloading it if needed).
func readCalicoManifests(ctx context.Context, b *gobuild.Builder) (map[string][]byte, error) {
	dir, err := b.ModuleDir(ctx, calicoModule, calicoVersion)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, f := range []string{calicoCRDsManifest, calicoNodeManifest, calicoFullManifest} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, fmt.Errorf("reading %s of %s@%s: %w", f, calicoModule, calicoVersion, err)
		}
		out[f] = data
	}
	return out, nil
}

// Bootstrap applies Calico's CRDs and RBAC (server-side apply), waits for
// the CRDs to be established, then creates the datastore objects.
func (Calico) Bootstrap(ctx context.Context, env Env) error {
	manifests, err := readCalicoManifests(ctx, env.Builder)
	if err != nil {
		return err
	}
	objs, err := calicoManifestObjects(manifests, env.EnforcerUser)
	if err != nil {
		return err
	}
	dyn, err := adminClient(env)
	if err != nil {
		return err
	}
	if err := applyEstablished(ctx, dyn, objs); err != nil {
		return err
	}
	guid := make([]byte, 16)
	if _, err := rand.Read(guid); err != nil {
		return fmt.Errorf("making a cluster GUID: %w", err)
	}
	return apply(ctx, dyn, calicoDatastoreObjects(hex.EncodeToString(guid), env))
}

// adminClient is a dynamic client with the cluster admin's credentials,
// for the API objects a driver brings.
func adminClient(env Env) (dynamic.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", env.AdminKubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", env.AdminKubeconfig, err)
	}
	cfg.Timeout = 30 * time.Second
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating a dynamic client: %w", err)
	}
	return dyn, nil
}

// applyEstablished applies objs and waits for the CRDs among them to be
// established, so the objects of their kinds can follow.
func applyEstablished(ctx context.Context, dyn dynamic.Interface, objs []*unstructured.Unstructured) error {
	if err := apply(ctx, dyn, objs); err != nil {
		return err
	}
	var crds []string
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, o.GetName())
		}
	}
	return waitEstablished(ctx, dyn, crds, 60*time.Second)
}

// apply server-side applies each object, forcing our field manager: the
// objects are the harness's, on a cluster it owns.
func apply(ctx context.Context, dyn dynamic.Interface, objs []*unstructured.Unstructured) error {
	force := true
	for _, o := range objs {
		gvr, err := gvrOf(o)
		if err != nil {
			return err
		}
		data, err := o.MarshalJSON()
		if err != nil {
			return fmt.Errorf("encoding %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		if _, err := dyn.Resource(gvr).Patch(ctx, o.GetName(), types.ApplyPatchType, data,
			metav1.PatchOptions{FieldManager: calicoFieldManager, Force: &force}); err != nil {
			return fmt.Errorf("applying %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return nil
}

// waitEstablished waits until every named CRD has Established=True.
func waitEstablished(ctx context.Context, dyn dynamic.Interface, names []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	crdGVR := gvrs["apiextensions.k8s.io/v1/CustomResourceDefinition"]
	for _, name := range names {
		var last string
		for {
			o, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			if err == nil && crdEstablished(o) {
				break
			}
			last = "not Established"
			if err != nil {
				last = err.Error()
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("CustomResourceDefinition %s: %s after %s", name, last, timeout)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func crdEstablished(o *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == "Established" && strings.EqualFold(fmt.Sprint(m["status"]), "True") {
			return true
		}
	}
	return false
}
