package cases

import (
	"bufio"
	"bytes"
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

	"github.com/netpol-conformance/netpol-conformance/internal/strictyaml"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

// FromPolicyFiles builds a one-stage case from users' own NetworkPolicy
// manifests (multi-document YAML, or kind: List), so they can check their
// policies offline. Policies without a namespace get defaultNamespace.
func FromPolicyFiles(paths []string, defaultNamespace string, topo *topology.Topology) (*Case, error) {
	c := &Case{Name: "policies", Description: "policies from " + strings.Join(paths, ", ")}
	var errs []error
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading policies: %w", err)
		}
		policies, err := decodePolicies(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
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
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if _, errs := c.stages(topo); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return c, nil
}

// decodePolicies reads every document of a YAML stream: NetworkPolicy
// objects, or Lists of them.
func decodePolicies(data []byte) ([]networkingv1.NetworkPolicy, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []networkingv1.NetworkPolicy
	for doc := 0; ; doc++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		// An empty document, or one of comments only, holds no object.
		if js, err := yaml.YAMLToJSON(raw); err == nil && (len(bytes.TrimSpace(js)) == 0 || string(bytes.TrimSpace(js)) == "null") {
			continue
		}
		// Only the kind is read leniently; the object is then decoded
		// strictly as that kind.
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(raw, &meta); err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		switch meta.Kind {
		case "List", "NetworkPolicyList":
			var list struct {
				metav1.TypeMeta `json:",inline"`
				metav1.ListMeta `json:"metadata,omitempty"`
				Items           []networkingv1.NetworkPolicy `json:"items"`
			}
			if err := strictyaml.Unmarshal(raw, &list); err != nil {
				return nil, fmt.Errorf("document %d (%s): %w", doc, meta.Kind, err)
			}
			out = append(out, list.Items...)
		case "NetworkPolicy", "":
			var p networkingv1.NetworkPolicy
			if err := strictyaml.Unmarshal(raw, &p); err != nil {
				return nil, fmt.Errorf("document %d: %w", doc, err)
			}
			out = append(out, p)
		default:
			return nil, fmt.Errorf("document %d: kind %q is not a NetworkPolicy: pass only NetworkPolicy manifests", doc, meta.Kind)
		}
	}
}
