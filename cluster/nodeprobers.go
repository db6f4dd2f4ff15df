package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/netpol-conformance/netpol-conformance/reachability"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

// NodeNamespace is the logical namespace of the node probers: one
// host-network pod on each node the topology's pods run on, from whose
// network namespace the traffic of that node is probed. The case table
// never names it; a peer selecting every namespace's pods selects them.
const NodeNamespace = "nodes"

// NodeProberPod probes from node's own network namespace and listens on
// nothing there: it shares the node's ports with everything else on it.
// It runs as kubelet does, as root, for that is how an enforcer may tell
// the node's own traffic: kube-network-policies (v0.8.0 and v1.1.1) accepts what a
// root-owned socket on the node sends (`meta skuid 0`), so that kubelet's
// probes pass, and drops a non-root host process's under a default deny
// (measured, docs/findings.md). It has no capability and a read-only
// root; host network is beyond every Pod Security profile but privileged.
func NodeProberPod(namespace, name, node, image, binary string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{"netpol-conformance/node-prober": "true"}},
		Spec: corev1.PodSpec{
			HostNetwork:                   true,
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(false),
				RunAsUser:      ptr.To[int64](0),
				RunAsGroup:     ptr.To[int64](0),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:            "agent",
				Image:           image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         []string{binary, "agent", "idle"},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					ReadOnlyRootFilesystem:   ptr.To(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
	pin(pod, node)
	return pod
}

// addNodeProbers starts a prober on every node the topology's pods run on
// and adds each node to the topology: an external named node-1, node-2 …
// (in node name order) at the prober's address, which is the node's. A
// cluster that refuses them (an admission policy against host network,
// a node the prober cannot fit) is not a failure of the run: traffic from
// nodes is then not probed, and the returned note says why.
func (c *Cluster) addNodeProbers(ctx context.Context) (note string, err error) {
	var nodes []string
	for _, name := range topology.StandardNamespaces {
		for _, p := range c.Topology.Namespace(name).Pods {
			if p.Node != "" && !slices.Contains(nodes, p.Node) {
				nodes = append(nodes, p.Node)
			}
		}
	}
	slices.Sort(nodes)
	real := fmt.Sprintf("netpol-%s-%s", c.opts.RunID, NodeNamespace)
	labels := c.namespaceLabels(nil)
	labels[podSecurityEnforce] = "privileged"
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: real, Labels: labels}}
	if _, err := c.client.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		if ctx.Err() != nil || !(apierrors.IsForbidden(err) || apierrors.IsInvalid(err)) {
			return "", fmt.Errorf("creating namespace %s: %w", real, err)
		}
		// An admission policy against privileged namespaces.
		return "traffic from nodes not probed: the host-network prober pods could not run: creating namespace " + real + ": " + err.Error(), nil
	}
	ns := topology.Namespace{Name: NodeNamespace}
	for i, node := range nodes {
		pod := NodeProberPod(real, fmt.Sprintf("node-%d", i+1), node, c.opts.AgentImage, c.opts.AgentBinary)
		c.opts.Placement.apply(pod)
		if _, err := c.client.CoreV1().Pods(real).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			return c.dropNodeProbers(ctx, real, fmt.Sprintf("creating %s/%s on node %s: %v", real, pod.Name, node, err))
		}
		ns.Pods = append(ns.Pods, topology.Pod{Name: pod.Name, HostNetwork: true, Node: node})
	}
	var notReady []string
	err = wait.PollUntilContextTimeout(ctx, time.Second, c.opts.PodStartTimeout, true, func(ctx context.Context) (bool, error) {
		notReady = notReady[:0]
		for i := range ns.Pods {
			pod, err := c.client.CoreV1().Pods(real).Get(ctx, ns.Pods[i].Name, metav1.GetOptions{})
			if err != nil {
				// Retried: one failed read is no reason to drop the rows.
				notReady = append(notReady, fmt.Sprintf("%s/%s (%v)", real, ns.Pods[i].Name, err))
				continue
			}
			if !podReady(pod) || pod.Status.PodIP == "" {
				notReady = append(notReady, fmt.Sprintf("%s/%s (%s%s)", pod.Namespace, pod.Name, pod.Status.Phase, unschedulable(pod)))
				continue
			}
			ns.Pods[i].IP = pod.Status.PodIP
		}
		return len(notReady) == 0, nil
	})
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if err != nil {
		return c.dropNodeProbers(ctx, real, fmt.Sprintf("not ready in %s: %s", c.opts.PodStartTimeout, strings.Join(notReady, ", ")))
	}
	without := c.Topology.DeepCopy()
	c.names[NodeNamespace] = real
	c.Topology.Namespaces = append(c.Topology.Namespaces, ns)
	for _, p := range ns.Pods {
		// The node's labels: what a cluster-wide policy's nodes peer
		// selects it by.
		node, err := c.client.CoreV1().Nodes().Get(ctx, p.Node, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("getting node %s: %w", p.Node, err)
		}
		c.Topology.Externals = append(c.Topology.Externals, topology.External{
			Name: p.Name, IP: p.IP, Node: true, NodeName: p.Node, Prober: topology.PodKey(NodeNamespace, p.Name), Labels: node.Labels,
		})
	}
	// With no policy anywhere every node must reach every pod, or a
	// denial from a node would be the cluster's network, not a policy
	// (a host firewall, a security group between nodes): the rows are
	// then left out rather than failing every case's reset.
	obs, err := c.ProbePass(ctx, nodeGateKeys, false)
	if err != nil && ctx.Err() != nil {
		return "", ctx.Err()
	}
	why := ""
	if err != nil {
		why = fmt.Sprintf("probing from them with no policy: %v", err)
	} else if cells := unreachedFromNodes(obs.Tables, c.Topology); len(cells) > 0 {
		why = fmt.Sprintf("with no policy, %d cells from them were not answered (first: %s): the cluster's network does not let the nodes reach every pod", len(cells), cells[0])
	}
	if why != "" {
		c.Topology = without
		delete(c.names, NodeNamespace)
		return c.dropNodeProbers(ctx, real, why)
	}
	return "", nil
}

// nodeGateKeys are probed from the nodes before their rows are kept.
var nodeGateKeys = []reachability.Key{{Port: 80, Protocol: corev1.ProtocolTCP}, {Port: 80, Protocol: corev1.ProtocolUDP}}

// unreachedFromNodes lists the cells from a node that were not answered.
func unreachedFromNodes(tables []*reachability.Table, topo *topology.Topology) []string {
	nodes := map[string]bool{}
	for _, e := range topo.Externals {
		nodes[e.Name] = e.Prober != ""
	}
	var out []string
	for _, t := range tables {
		for i, from := range t.From {
			if !nodes[from] {
				continue
			}
			for j, to := range t.To {
				if c := t.At(i, j); c.Outcome != reachability.Allowed {
					out = append(out, fmt.Sprintf("%s -> %s %s %s", from, to, t.Key, c.Outcome))
				}
			}
		}
	}
	return out
}

// dropNodeProbers deletes the probers' namespace at once, so nothing of a
// refused prober waits for the run's end, and returns why.
func (c *Cluster) dropNodeProbers(ctx context.Context, namespace, why string) (string, error) {
	if err := DeleteNamespaces(ctx, c.client, []string{namespace}); err != nil {
		return "", fmt.Errorf("deleting %s after its probers failed (%s): %w", namespace, why, err)
	}
	return "traffic from nodes not probed: the host-network prober pods could not run: " + why, nil
}
