package cluster

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/netpol-conformance/netpol-conformance/cni"
)

// TestInventory turns listed objects into what detection reads; the
// detection itself is cni's, tested there.
func TestInventory(t *testing.T) {
	client := fake.NewSimpleClientset(&appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "calico-node"},
		Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "install-cni", Image: "docker.io/calico/cni:v3.31.0"}},
			Containers: []corev1.Container{{Name: "calico-node", Image: "docker.io/calico/node:v3.31.0",
				Env: []corev1.EnvVar{{Name: "DATASTORE_TYPE", Value: "kubernetes"}, {Name: "NODENAME", ValueFrom: &corev1.EnvVarSource{}}}}},
		}}},
	})
	inv, err := Inventory(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Workloads) != 1 || len(inv.Workloads[0].Containers) != 2 || inv.Workloads[0].Containers[1].Env["DATASTORE_TYPE"] != "kubernetes" {
		t.Fatalf("inventory = %+v", inv)
	}
	if _, fromRef := inv.Workloads[0].Containers[1].Env["NODENAME"]; fromRef {
		t.Error("an env value from a reference was read as a literal")
	}
	if d := cni.Detect(inv); d.Name != "calico" || d.Version != "v3.31.0" {
		t.Errorf("Detect = %+v", d)
	}
}
