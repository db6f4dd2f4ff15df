// Package workload builds the pods the local cluster runs for its own
// checks and for the smoke test: the suite's agent pods, which meet the Pod
// Security "restricted" profile, running the locally built agent image.
package workload

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/netpol-conformance/netpol-conformance/cluster"
	"github.com/netpol-conformance/netpol-conformance/localcluster/images"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

// AgentPod is the suite's agent pod (cluster.AgentPod) serving the
// standard ports, with the local agent image.
func AgentPod(namespace, name string, labels map[string]string) *corev1.Pod {
	pod := &topology.Pod{Name: name, Labels: labels, Ports: topology.StandardContainerPorts()}
	p := cluster.AgentPod(namespace, pod, images.Agent, images.AgentBinary)
	// The local images are loaded into containerd, never pulled.
	p.Spec.Containers[0].ImagePullPolicy = corev1.PullNever
	return p
}
