// Package workload builds the pods the local cluster runs for its own
// checks and for the smoke test: agent pods that meet the Pod Security
// "restricted" profile.
package workload

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/netpol-conformance/netpol-conformance/localcluster/images"
)

// AgentPod is a pod running `netpol-conformance agent serve` on ports 80
// and 81 as a non-root user with a read-only root filesystem and no
// capabilities. Binding ports below 1024 without CAP_NET_BIND_SERVICE is
// allowed by the pod sysctl net.ipv4.ip_unprivileged_port_start=0, a "safe"
// sysctl that the restricted profile permits.
func AgentPod(namespace, name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To[int64](65532),
				RunAsGroup:     ptr.To[int64](65532),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				Sysctls:        []corev1.Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start", Value: "0"}},
			},
			Containers: []corev1.Container{{
				Name:            "agent",
				Image:           images.Agent,
				ImagePullPolicy: corev1.PullNever,
				Command:         []string{images.AgentBinary, "agent", "serve", "--ports=80,81"},
				Env: []corev1.EnvVar{
					{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				},
				Ports: []corev1.ContainerPort{{Name: "serve-80", ContainerPort: 80}, {Name: "serve-81", ContainerPort: 81}},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					ReadOnlyRootFilesystem:   ptr.To(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
}
