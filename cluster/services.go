package cluster

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/netpol-conformance/netpol-conformance/reachability"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

// EnsureServices puts a ClusterIP Service in front of every matrix pod,
// with a port per probed key, and records the ClusterIPs. The Services have
// no selector: their EndpointSlices name the pod's IP directly, because
// cases relabel pods and a selector would lose them.
func (c *Cluster) EnsureServices(ctx context.Context, keys []reachability.Key) error {
	if c.serviceIPs != nil {
		return nil
	}
	ips := map[string]string{}
	for _, key := range c.Topology.MatrixKeys() {
		ns, name, _ := topology.SplitPodKey(key)
		realNS := c.names.Real(ns)
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: realNS, Name: name}}
		slice := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: realNS, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{
				Addresses:  []string{c.Topology.Pod(key).IP},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			}},
		}
		if strings.Contains(c.Topology.Pod(key).IP, ":") {
			slice.AddressType = discoveryv1.AddressTypeIPv6
		}
		for _, k := range keys {
			portName := topology.PortName(k.Port, k.Protocol)
			svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: portName, Port: k.Port, Protocol: k.Protocol})
			slice.Ports = append(slice.Ports, discoveryv1.EndpointPort{Name: ptr.To(portName), Port: ptr.To(k.Port), Protocol: ptr.To(k.Protocol)})
		}
		created, err := c.client.CoreV1().Services(realNS).Create(ctx, svc, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("creating service %s/%s: %w", realNS, name, err)
		}
		if _, err := c.client.DiscoveryV1().EndpointSlices(realNS).Create(ctx, slice, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating endpoint slice %s/%s: %w", realNS, name, err)
		}
		ips[key] = created.Spec.ClusterIP
	}
	c.serviceIPs = ips
	return nil
}

// target returns the address probes to a matrix pod go to.
func (c *Cluster) target(key string, viaService bool) string {
	if viaService {
		return c.serviceIPs[key]
	}
	return c.Topology.Pod(key).IP
}
