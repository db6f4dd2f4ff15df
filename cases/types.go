// Package cases holds the table of NetworkPolicy scenarios: one YAML file
// per family, embedded in the binary, strictly decoded and validated. A case
// is data: real NetworkPolicy manifests, optional dynamic steps, and
// optional truth tables pinned by hand from the spec, which tests check
// against the reference model.
package cases

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/netpol-conformance/netpol-conformance/clusterpolicy"
)

// File is one family of cases, one YAML file.
type File struct {
	// Family names the file's subject; it equals the file name without
	// ".yaml" and is every case's first tag.
	Family      string `json:"family"`
	Description string `json:"description"`
	Cases       []Case `json:"cases"`

	// Source is the file the cases were read from.
	Source string `json:"-"`
}

// Case is one scenario, run on the standard topology.
type Case struct {
	// Name is unique across the whole table and stable across releases:
	// reports are joined on it.
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Tags        []string `json:"tags,omitempty"`
	// Policies are created before anything is probed. ipBlock CIDRs may
	// refer to pod IPs as $(ns/pod), e.g. "$(y/b)/32".
	Policies []networkingv1.NetworkPolicy `json:"policies,omitempty"`
	// ClusterPolicies are cluster-wide policies (AdminNetworkPolicy,
	// BaselineAdminNetworkPolicy, ClusterNetworkPolicy), created with
	// Policies. They touch the whole cluster, so a case that has them
	// runs alone, and only where the cluster serves and enforces their
	// API. networks may refer to pod IPs as $(ns/pod).
	ClusterPolicies []clusterpolicy.Object `json:"clusterPolicies,omitempty"`
	// Expect pins truth tables for the state after Policies are applied.
	Expect []PinnedTable `json:"expect,omitempty"`
	// Probes are single connections outside the pod matrix (to DNS, to the
	// API server) checked after Policies are applied.
	Probes []Probe `json:"probes,omitempty"`
	// Steps change policies or labels one at a time; every step is
	// probed after it is applied.
	Steps []Step `json:"steps,omitempty"`
	// KeepConnections marks a case about connections that outlive a
	// change: whether they survive is implementation-defined, never a
	// failure. The suite checks new connections in every stage and says
	// that it does not probe established ones yet.
	KeepConnections bool `json:"keepConnections,omitempty"`
	// ProbeVia is "pod" (the default: probes go to pod IPs, which is what
	// NetworkPolicy is about) or "service": probes go to a ClusterIP
	// Service in front of each pod, so kube-proxy's DNAT happens first.
	ProbeVia string `json:"probeVia,omitempty"`

	// Family is the File's family, set by the loader.
	Family string `json:"-"`
}

// PinnedTable is a truth table written by hand for one port and protocol,
// in the grid form reachability.Parse reads.
type PinnedTable struct {
	Port     int32           `json:"port"`
	Protocol corev1.Protocol `json:"protocol"`
	Table    string          `json:"table"`
}

// Probe is one connection with an optional pinned outcome.
type Probe struct {
	From     string          `json:"from"`
	To       string          `json:"to"`
	Port     int32           `json:"port"`
	Protocol corev1.Protocol `json:"protocol,omitempty"`
	// Expect is "allowed" or "blocked"; empty leaves the answer to the
	// model.
	Expect string `json:"expect,omitempty"`
}

// Step is one change to the cluster. Exactly one action is set.
type Step struct {
	Description  string                      `json:"description,omitempty"`
	CreatePolicy *networkingv1.NetworkPolicy `json:"createPolicy,omitempty"`
	UpdatePolicy *networkingv1.NetworkPolicy `json:"updatePolicy,omitempty"`
	DeletePolicy *ObjectRef                  `json:"deletePolicy,omitempty"`
	// CreateClusterPolicy, UpdateClusterPolicy and DeleteClusterPolicy
	// change a cluster-wide policy.
	CreateClusterPolicy *clusterpolicy.Object `json:"createClusterPolicy,omitempty"`
	UpdateClusterPolicy *clusterpolicy.Object `json:"updateClusterPolicy,omitempty"`
	DeleteClusterPolicy *ClusterObjectRef     `json:"deleteClusterPolicy,omitempty"`
	SetPodLabels        *PodLabels            `json:"setPodLabels,omitempty"`
	SetNamespaceLabels  *NamespaceLabels      `json:"setNamespaceLabels,omitempty"`
	// Expect and Probes pin the state after this step.
	Expect []PinnedTable `json:"expect,omitempty"`
	Probes []Probe       `json:"probes,omitempty"`
}

// ObjectRef names a namespaced object.
type ObjectRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// ClusterObjectRef names a cluster-scoped object by kind and name.
type ClusterObjectRef struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// APIs lists the cluster-wide policy APIs the case uses, in
// clusterpolicy.APIs order; none for a case of NetworkPolicies only.
func (c *Case) APIs() []clusterpolicy.API { return clusterpolicy.APIsOf(c.ClusterObjects()) }

// ClusterObjects lists every cluster-wide policy the case creates,
// initially or in a step.
func (c *Case) ClusterObjects() []clusterpolicy.Object {
	objs := slices.Clone(c.ClusterPolicies)
	for _, s := range c.Steps {
		for _, o := range []*clusterpolicy.Object{s.CreateClusterPolicy, s.UpdateClusterPolicy} {
			if o != nil {
				objs = append(objs, *o)
			}
		}
	}
	return objs
}

// PodLabels replaces the labels of one pod.
type PodLabels struct {
	// Pod is "ns/name".
	Pod    string            `json:"pod"`
	Labels map[string]string `json:"labels"`
}

// NamespaceLabels replaces the labels of one namespace (the immutable
// kubernetes.io/metadata.name label stays).
type NamespaceLabels struct {
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
}

// Where probes go.
const (
	ProbeViaPod     = "pod"
	ProbeViaService = "service"
)

// Probe outcomes a case may pin.
const (
	ExpectAllowed = "allowed"
	ExpectBlocked = "blocked"
)
