package topology

import (
	"fmt"
	"net/netip"
	"os"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/netpol-conformance/netpol-conformance/internal/strictyaml"
)

// Load reads and validates a topology file (YAML or JSON), so users can
// model their own cluster.
func Load(path string) (*Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading topology: %w", err)
	}
	t := &Topology{}
	if err := strictyaml.Unmarshal(data, t); err != nil {
		return nil, fmt.Errorf("topology %s: %w", path, err)
	}
	if errs := t.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("topology %s: %w", path, errs.ToAggregate())
	}
	return t, nil
}

// Validate reports every problem of the topology: names, labels, addresses,
// ports, and matrix entries that name nothing.
func (t *Topology) Validate() field.ErrorList {
	var errs field.ErrorList
	known := map[string]bool{}
	for i, ns := range t.Namespaces {
		path := field.NewPath("namespaces").Index(i)
		for _, msg := range validation.IsDNS1123Label(ns.Name) {
			errs = append(errs, field.Invalid(path.Child("name"), ns.Name, msg))
		}
		if known[ns.Name] {
			errs = append(errs, field.Duplicate(path.Child("name"), ns.Name))
		}
		known[ns.Name] = true
		errs = append(errs, metav1validation.ValidateLabels(ns.Labels, path.Child("labels"))...)
		for j, pod := range ns.Pods {
			ppath := path.Child("pods").Index(j)
			key := PodKey(ns.Name, pod.Name)
			for _, msg := range validation.IsDNS1123Subdomain(pod.Name) {
				errs = append(errs, field.Invalid(ppath.Child("name"), pod.Name, msg))
			}
			if known[key] {
				errs = append(errs, field.Duplicate(ppath.Child("name"), key))
			}
			known[key] = true
			errs = append(errs, metav1validation.ValidateLabels(pod.Labels, ppath.Child("labels"))...)
			if _, err := netip.ParseAddr(pod.IP); err != nil {
				errs = append(errs, field.Invalid(ppath.Child("ip"), pod.IP, "must be an IP address such as 10.244.1.5"))
			}
			for k, cp := range pod.Ports {
				cpath := ppath.Child("ports").Index(k)
				for _, msg := range validation.IsValidPortNum(int(cp.ContainerPort)) {
					errs = append(errs, field.Invalid(cpath.Child("containerPort"), cp.ContainerPort, msg))
				}
				if cp.Name != "" {
					for _, msg := range validation.IsValidPortName(cp.Name) {
						errs = append(errs, field.Invalid(cpath.Child("name"), cp.Name, msg))
					}
				}
				switch cp.Protocol {
				case "", "TCP", "UDP", "SCTP":
				default:
					errs = append(errs, field.NotSupported(cpath.Child("protocol"), cp.Protocol, []string{"TCP", "UDP", "SCTP"}))
				}
			}
		}
	}
	for i, ext := range t.Externals {
		path := field.NewPath("externals").Index(i)
		if _, _, isPod := SplitPodKey(ext.Name); isPod || ext.Name == "" {
			errs = append(errs, field.Invalid(path.Child("name"), ext.Name, "must be a non-empty name without \"/\" (pods are ns/name)"))
		}
		if known[ext.Name] {
			errs = append(errs, field.Duplicate(path.Child("name"), ext.Name))
		}
		known[ext.Name] = true
		if _, err := netip.ParseAddr(ext.IP); err != nil {
			errs = append(errs, field.Invalid(path.Child("ip"), ext.IP, "must be an IP address such as 203.0.113.10"))
		}
		if ext.NodeName != "" && !ext.Node {
			errs = append(errs, field.Invalid(path.Child("nodeName"), ext.NodeName, "names the node of a node address: set node: true too"))
		}
		if ext.Prober != "" {
			if p := t.Pod(ext.Prober); p == nil || !p.HostNetwork || p.Node != ext.NodeName || ext.NodeName == "" {
				errs = append(errs, field.Invalid(path.Child("prober"), ext.Prober, "must be a hostNetwork pod of the topology on node nodeName"))
			}
		}
	}
	for i, key := range t.Matrix {
		if !known[key] {
			errs = append(errs, field.NotFound(field.NewPath("matrix").Index(i), key))
		}
	}
	return errs
}
