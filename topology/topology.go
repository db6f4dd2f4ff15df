// Package topology describes the cluster shape that NetworkPolicy scenarios
// run on: namespaces with labels, pods with labels, IPs and container ports,
// and endpoints outside the pod network. It is pure data: the reference model
// evaluates policies against it and the suite creates it in a real cluster.
package topology

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// NamespaceNameLabel is the label the control plane sets on every namespace.
// "The Kubernetes control plane sets an immutable label
// kubernetes.io/metadata.name on all namespaces, the value of the label is the
// namespace name." (NetworkPolicy concept docs)
const NamespaceNameLabel = corev1.LabelMetadataName

// Topology is a set of namespaces, their pods, and endpoints outside the pod
// network.
type Topology struct {
	// Namespaces holds every namespace the scenarios may select or refer to.
	Namespaces []Namespace `json:"namespaces"`
	// Externals are endpoints that are not pods: addresses outside the
	// cluster, or the node itself. Only ipBlock peers can select them.
	Externals []External `json:"externals,omitempty"`
	// Matrix lists, in order, the endpoints that form the rows and columns of
	// truth tables ("ns/pod" or an external's name). Empty means every pod.
	Matrix []string `json:"matrix,omitempty"`
}

// Namespace is a namespace with its labels and pods.
type Namespace struct {
	Name string `json:"name"`
	// Labels as the user sets them; Topology.NamespaceLabels adds the
	// kubernetes.io/metadata.name label the control plane always sets.
	Labels map[string]string `json:"labels,omitempty"`
	Pods   []Pod             `json:"pods,omitempty"`
}

// Pod is a pod with its labels, IP and container ports.
type Pod struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	// IP is the pod's IP address; ipBlock peers match it.
	IP string `json:"ip"`
	// HostNetwork pods share the node's network namespace and IP; the spec
	// leaves NetworkPolicy behaviour for them to the implementation.
	HostNetwork bool `json:"hostNetwork,omitempty"`
	// Ports are the pod's container ports; named ports in policies resolve
	// against them.
	Ports []corev1.ContainerPort `json:"ports,omitempty"`
	// Node is the node the pod runs on, where known.
	Node string `json:"node,omitempty"`
}

// External is an endpoint outside the pod network.
type External struct {
	// Name identifies the endpoint in tables and commands; it has no "/".
	Name string `json:"name"`
	IP   string `json:"ip"`
	// Node marks an address of the node that pods run on (the API server on
	// a single-node cluster, for instance). Traffic between a pod and its
	// node is outside what NetworkPolicy decides.
	Node bool `json:"node,omitempty"`
	// NodeName, with Node, is the one node this address belongs to. Then
	// only the pods on that node are its own; traffic from it to pods on
	// other nodes is decided by the rules.
	NodeName string `json:"nodeName,omitempty"`
	// Prober is the host-network pod ("ns/name") on node NodeName that
	// probes from its network namespace: traffic from this external is
	// probed from it. A peer that selects pods may select it, which is
	// where implementations differ (hostNetwork pods are undefined).
	Prober string `json:"prober,omitempty"`
	// Labels, with Node, are the node's labels: a cluster-wide policy's
	// nodes peer selects nodes by them.
	Labels map[string]string `json:"labels,omitempty"`
}

// PodKey names a pod as "namespace/name", the form used in truth tables.
func PodKey(namespace, name string) string { return namespace + "/" + name }

// SplitPodKey splits "namespace/name"; ok is false for anything else.
func SplitPodKey(key string) (namespace, name string, ok bool) {
	namespace, name, ok = strings.Cut(key, "/")
	if !ok || namespace == "" || name == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	return namespace, name, true
}

// Endpoint is a resolved endpoint: a pod or an external.
type Endpoint struct {
	// Key is "ns/pod" for pods and the name for externals.
	Key       string
	Addr      netip.Addr
	Namespace *Namespace // nil for externals
	Pod       *Pod       // nil for externals
	External  *External  // nil for pods
}

// IsPod reports whether the endpoint is a pod.
func (e *Endpoint) IsPod() bool { return e.Pod != nil }

// Namespace returns the namespace with the given name, or nil.
func (t *Topology) Namespace(name string) *Namespace {
	for i := range t.Namespaces {
		if t.Namespaces[i].Name == name {
			return &t.Namespaces[i]
		}
	}
	return nil
}

// Pod returns the pod with the given "ns/name" key, or nil.
func (t *Topology) Pod(key string) *Pod {
	ns, name, ok := SplitPodKey(key)
	if !ok {
		return nil
	}
	n := t.Namespace(ns)
	if n == nil {
		return nil
	}
	for i := range n.Pods {
		if n.Pods[i].Name == name {
			return &n.Pods[i]
		}
	}
	return nil
}

// NamespaceLabels returns the namespace's labels as the API server stores
// them: the user's labels plus kubernetes.io/metadata.name.
func (n *Namespace) NamespaceLabels() map[string]string {
	out := maps.Clone(n.Labels)
	if out == nil {
		out = make(map[string]string, 1)
	}
	out[NamespaceNameLabel] = n.Name
	return out
}

// Endpoints resolves every pod and external of the topology, pods first in
// namespace and pod order. It fails on the first unparsable address; call
// Validate first for a full report.
func (t *Topology) Endpoints() ([]Endpoint, error) {
	var out []Endpoint
	for i := range t.Namespaces {
		ns := &t.Namespaces[i]
		for j := range ns.Pods {
			pod := &ns.Pods[j]
			addr, err := netip.ParseAddr(pod.IP)
			if err != nil {
				return nil, fmt.Errorf("pod %s: ip %q: %w", PodKey(ns.Name, pod.Name), pod.IP, err)
			}
			out = append(out, Endpoint{Key: PodKey(ns.Name, pod.Name), Addr: addr, Namespace: ns, Pod: pod})
		}
	}
	for i := range t.Externals {
		ext := &t.Externals[i]
		addr, err := netip.ParseAddr(ext.IP)
		if err != nil {
			return nil, fmt.Errorf("external %s: ip %q: %w", ext.Name, ext.IP, err)
		}
		out = append(out, Endpoint{Key: ext.Name, Addr: addr, External: ext})
	}
	return out, nil
}

// MatrixKeys returns the endpoints that form truth-table rows and columns.
func (t *Topology) MatrixKeys() []string {
	if len(t.Matrix) > 0 {
		return slices.Clone(t.Matrix)
	}
	var keys []string
	for _, ns := range t.Namespaces {
		for _, pod := range ns.Pods {
			keys = append(keys, PodKey(ns.Name, pod.Name))
		}
	}
	return keys
}

// SourceKeys returns the endpoints that form truth-table rows: the matrix,
// then the externals probed from a prober of their own (the nodes), which
// are sources only, since their probers listen on nothing.
func (t *Topology) SourceKeys() []string {
	keys := t.MatrixKeys()
	for _, e := range t.Externals {
		if e.Prober != "" {
			keys = append(keys, e.Name)
		}
	}
	return keys
}

// Rows are the rows of a probe pass: SourceKeys, or the matrix alone when
// the pass probes through Services. A node reaching a ClusterIP takes the
// node's own output path and source address through kube-proxy, which the
// Service cases are not about (measured: Cilium v1.20.2 drops UDP from a
// node to a ClusterIP on another node with no policy anywhere).
func (t *Topology) Rows(throughServices bool) []string {
	if throughServices {
		return t.MatrixKeys()
	}
	return t.SourceKeys()
}

// DeepCopy returns a copy that shares no maps or slices with t, so steps can
// relabel pods and namespaces without touching the original.
func (t *Topology) DeepCopy() *Topology {
	out := &Topology{
		Externals: slices.Clone(t.Externals),
		Matrix:    slices.Clone(t.Matrix),
	}
	for _, ns := range t.Namespaces {
		nc := Namespace{Name: ns.Name, Labels: maps.Clone(ns.Labels)}
		for _, pod := range ns.Pods {
			pc := pod
			pc.Labels = maps.Clone(pod.Labels)
			pc.Ports = slices.Clone(pod.Ports)
			nc.Pods = append(nc.Pods, pc)
		}
		out.Namespaces = append(out.Namespaces, nc)
	}
	return out
}
