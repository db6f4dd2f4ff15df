package workload

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netpol-conformance/netpol-conformance/topology"
)

// CoreDNSPlugins are the CoreDNS plugins the local cluster's CoreDNS is
// compiled with, and all its Corefile uses: kubeadm's Corefile without
// `forward` (nothing may leave this machine) and without `prometheus`
// (nothing scrapes it).
var CoreDNSPlugins = []string{"errors", "health", "ready", "kubernetes", "cache", "reload", "loadbalance"}

// DNS is the cluster DNS as kubeadm deploys it: a CoreDNS Deployment in
// kube-system whose pods are labelled k8s-app=kube-dns, behind the
// kube-dns Service at the address kubelets give pods.
type DNS struct {
	ServiceAccount     *corev1.ServiceAccount
	ClusterRole        *rbacv1.ClusterRole
	ClusterRoleBinding *rbacv1.ClusterRoleBinding
	ConfigMap          *corev1.ConfigMap
	Deployment         *appsv1.Deployment
	Service            *corev1.Service
}

const (
	dnsNamespace  = "kube-system"
	coreDNSName   = "coredns"
	corefileKey   = "Corefile"
	healthPort    = 8080
	readyPort     = 8181
	coreDNSUID    = 65532
	dnsServerPort = 53
)

// Corefile serves the cluster domain from the API and answers nothing
// else: with no upstream, other names get SERVFAIL rather than a query
// that leaves the machine.
func Corefile(domain string) string {
	return fmt.Sprintf(`.:%d {
    errors
    health :%d
    ready :%d
    kubernetes %s in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    cache 30
    reload
    loadbalance
}
`, dnsServerPort, healthPort, readyPort, domain)
}

// CoreDNS returns the objects of the cluster DNS running image, its
// Service at serviceIP, serving domain.
func CoreDNS(image, serviceIP, domain string) DNS {
	dnsPod := topology.Standard().Pod(topology.DNSPod)
	labels := map[string]string{}
	for k, v := range dnsPod.Labels {
		labels[k] = v
	}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: dnsNamespace, Labels: labels}
	}
	role := "system:" + coreDNSName
	probe := func(path string, port int) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(int32(port))}},
			PeriodSeconds: 2, FailureThreshold: 5,
		}
	}
	replicas := int32(1)
	nonRoot := true
	noEscalation := false
	uid := int64(coreDNSUID)
	return DNS{
		ServiceAccount: &corev1.ServiceAccount{ObjectMeta: meta(coreDNSName)},
		ClusterRole: &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: role},
			// What the kubernetes plugin watches (kubeadm's role).
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"endpoints", "services", "pods", "namespaces"}, Verbs: []string{"list", "watch"}},
				{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
			},
		},
		ClusterRoleBinding: &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: role},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: coreDNSName, Namespace: dnsNamespace}},
		},
		ConfigMap: &corev1.ConfigMap{ObjectMeta: meta(coreDNSName), Data: map[string]string{corefileKey: Corefile(domain)}},
		Deployment: &appsv1.Deployment{
			ObjectMeta: meta(coreDNSName),
			Spec: appsv1.DeploymentSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{
						ServiceAccountName: coreDNSName,
						PriorityClassName:  "system-cluster-critical",
						// The DNS server must not resolve through itself.
						DNSPolicy: corev1.DNSDefault,
						SecurityContext: &corev1.PodSecurityContext{
							RunAsNonRoot: &nonRoot, RunAsUser: &uid, RunAsGroup: &uid,
							SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
							// Port 53 without a capability: a safe, namespaced
							// sysctl (kubeadm's CoreDNS adds NET_BIND_SERVICE
							// instead, which needs file capabilities on the binary).
							Sysctls: []corev1.Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start", Value: "0"}},
						},
						Containers: []corev1.Container{{
							Name:            coreDNSName,
							Image:           image,
							ImagePullPolicy: corev1.PullNever,
							Args:            []string{"-conf", "/etc/coredns/" + corefileKey},
							Ports: []corev1.ContainerPort{
								{Name: "dns", ContainerPort: dnsServerPort, Protocol: corev1.ProtocolUDP},
								{Name: "dns-tcp", ContainerPort: dnsServerPort, Protocol: corev1.ProtocolTCP},
							},
							Resources: corev1.ResourceRequirements{
								Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
								Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("170Mi")},
							},
							LivenessProbe:  probe("/health", healthPort),
							ReadinessProbe: probe("/ready", readyPort),
							SecurityContext: &corev1.SecurityContext{
								AllowPrivilegeEscalation: &noEscalation,
								ReadOnlyRootFilesystem:   &nonRoot,
								Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							},
							VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/coredns", ReadOnly: true}},
						}},
						Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
							ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: coreDNSName}},
						}}},
					},
				},
			},
		},
		Service: &corev1.Service{
			ObjectMeta: meta(strings.TrimPrefix(topology.DNSPod, dnsNamespace+"/")),
			Spec: corev1.ServiceSpec{
				Selector:  labels,
				ClusterIP: serviceIP,
				Ports: []corev1.ServicePort{
					{Name: "dns", Port: dnsServerPort, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")},
					{Name: "dns-tcp", Port: dnsServerPort, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("dns-tcp")},
				},
			},
		},
	}
}
