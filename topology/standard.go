package topology

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// The standard topology is the one the upstream netpol e2e suite made
// familiar: namespaces x, y and z, each with pods a, b and c, every pod
// serving ports 80 and 81 on TCP, UDP and SCTP.
var (
	StandardNamespaces = []string{"x", "y", "z"}
	StandardPods       = []string{"a", "b", "c"}
	StandardPorts      = []int32{80, 81}
	StandardProtocols  = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
)

// Well-known endpoints of the standard topology that sit outside its 9x9
// matrix: cases probe them one cell at a time.
const (
	// DNSPod is the cluster DNS server, labelled as kube-dns is everywhere.
	DNSPod = "kube-system/kube-dns"
	// APIServer is the API server's endpoint on the node.
	APIServer = "apiserver"
)

// PortName is the named container port the standard topology gives each
// served port, e.g. "serve-80-tcp".
func PortName(port int32, protocol corev1.Protocol) string {
	switch protocol {
	case corev1.ProtocolUDP:
		return fmt.Sprintf("serve-%d-udp", port)
	case corev1.ProtocolSCTP:
		return fmt.Sprintf("serve-%d-sctp", port)
	default:
		return fmt.Sprintf("serve-%d-tcp", port)
	}
}

// Standard returns the standard topology with model IPs: 10.20.N.M for the
// M-th pod of the N-th namespace. A real cluster assigns other IPs; cases
// refer to pod IPs through $(ns/pod) placeholders, never literally.
func Standard() *Topology {
	t := &Topology{}
	for i, ns := range StandardNamespaces {
		n := Namespace{Name: ns, Labels: map[string]string{"ns": ns}}
		for j, pod := range StandardPods {
			n.Pods = append(n.Pods, Pod{
				Name:   pod,
				Labels: map[string]string{"pod": pod},
				IP:     fmt.Sprintf("10.20.%d.%d", i+1, j+1),
				Ports:  StandardContainerPorts(),
			})
		}
		t.Namespaces = append(t.Namespaces, n)
	}
	t.Matrix = t.MatrixKeys()
	t.Namespaces = append(t.Namespaces, Namespace{
		Name: "kube-system",
		Pods: []Pod{{
			Name:   "kube-dns",
			Labels: map[string]string{"k8s-app": "kube-dns"},
			IP:     "10.20.0.10",
			Ports: []corev1.ContainerPort{
				{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
				{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP},
			},
		}},
	})
	t.Externals = []External{{Name: APIServer, IP: "10.20.0.1", Node: true}}
	return t
}

// StandardContainerPorts returns the container ports every standard pod
// serves, each named with PortName.
func StandardContainerPorts() []corev1.ContainerPort {
	var ports []corev1.ContainerPort
	for _, proto := range StandardProtocols {
		for _, port := range StandardPorts {
			ports = append(ports, corev1.ContainerPort{Name: PortName(port, proto), ContainerPort: port, Protocol: proto})
		}
	}
	return ports
}
