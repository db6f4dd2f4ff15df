package cases

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"sigs.k8s.io/yaml"

	"github.com/netpol-conformance/netpol-conformance/clusterpolicy"
	"github.com/netpol-conformance/netpol-conformance/internal/strictyaml"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

// FromPolicyFiles builds a one-stage case from users' own manifests
// (multi-document YAML, or kind: List) of NetworkPolicies and cluster-wide
// policies (AdminNetworkPolicy, BaselineAdminNetworkPolicy,
// ClusterNetworkPolicy), so they can check their policies offline.
// NetworkPolicies without a namespace get defaultNamespace.
func FromPolicyFiles(paths []string, defaultNamespace string, topo *topology.Topology) (*Case, error) {
	c := &Case{Name: "policies", Description: "policies from " + strings.Join(paths, ", ")}
	var errs []error
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading policies: %w", err)
		}
		policies, cluster, err := decodePolicies(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		for i := range cluster {
			fld := field.NewPath(fmt.Sprintf("%s[%s]", path, cluster[i].Ref()))
			for _, e := range validateClusterPolicy(&cluster[i], fld, topo) {
				errs = append(errs, e)
			}
		}
		c.ClusterPolicies = append(c.ClusterPolicies, cluster...)
		for i := range policies {
			if policies[i].Namespace == "" {
				policies[i].Namespace = defaultNamespace
			}
			fld := field.NewPath(fmt.Sprintf("%s[%d]", path, i))
			for _, e := range validatePolicyRefs(&policies[i], fld, topo) {
				errs = append(errs, e)
			}
		}
		c.Policies = append(c.Policies, policies...)
	}
	if apis := c.APIs(); len(apis) > 1 {
		errs = append(errs, fmt.Errorf("the files hold both %s and %s: a cluster serves one of these APIs, check them separately", apis[0], apis[1]))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if _, errs := c.stages(topo); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return c, nil
}

// decodePolicies reads every document of a YAML stream: NetworkPolicy
// objects, cluster-wide policies, or Lists of them.
func decodePolicies(data []byte) ([]networkingv1.NetworkPolicy, []clusterpolicy.Object, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []networkingv1.NetworkPolicy
	var cluster []clusterpolicy.Object
	for doc := 0; ; doc++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return out, cluster, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("document %d: %w", doc, err)
		}
		// An empty document, or one of comments only, holds no object.
		if js, err := yaml.YAMLToJSON(raw); err == nil && (len(bytes.TrimSpace(js)) == 0 || string(bytes.TrimSpace(js)) == "null") {
			continue
		}
		// Only the kind is read leniently; the object is then decoded
		// strictly as that kind.
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(raw, &meta); err != nil {
			return nil, nil, fmt.Errorf("document %d: %w", doc, err)
		}
		switch meta.Kind {
		case "List", "NetworkPolicyList":
			// A List may mix kinds, as kubectl get -o yaml writes them.
			var list struct {
				metav1.TypeMeta `json:",inline"`
				metav1.ListMeta `json:"metadata,omitempty"`
				Items           []json.RawMessage `json:"items"`
			}
			if err := strictyaml.Unmarshal(raw, &list); err != nil {
				return nil, nil, fmt.Errorf("document %d (%s): %w", doc, meta.Kind, err)
			}
			for i, item := range list.Items {
				nps, cws, err := decodePolicies(item)
				if err != nil {
					return nil, nil, fmt.Errorf("document %d (%s) items[%d]: %w", doc, meta.Kind, i, err)
				}
				out, cluster = append(out, nps...), append(cluster, cws...)
			}
		case "NetworkPolicy", "":
			var p networkingv1.NetworkPolicy
			if err := strictyaml.Unmarshal(raw, &p); err != nil {
				return nil, nil, fmt.Errorf("document %d: %w", doc, err)
			}
			out = append(out, p)
		case clusterpolicy.KindAdminNetworkPolicy, clusterpolicy.KindBaselineAdminNetworkPolicy, clusterpolicy.KindClusterNetworkPolicy:
			var o clusterpolicy.Object
			if err := strictyaml.Unmarshal(raw, &o); err != nil {
				return nil, nil, fmt.Errorf("document %d: %w", doc, err)
			}
			cluster = append(cluster, o)
		default:
			return nil, nil, fmt.Errorf("document %d: kind %q is not a policy: pass NetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy or ClusterNetworkPolicy manifests", doc, meta.Kind)
		}
	}
}
