package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/netpol-conformance/netpol-conformance/cni"
)

// Inventory lists what package cni reads to name the cluster's
// NetworkPolicy enforcer: every DaemonSet and Deployment with its
// containers, the served API groups, and Calico's ClusterInformation. It
// reads, never writes. What it could not read is returned as an error
// next to what it could, so detection works with partial rights.
func Inventory(ctx context.Context, client kubernetes.Interface) (cni.Inventory, error) {
	var inv cni.Inventory
	var errs []error
	daemonSets, err := client.AppsV1().DaemonSets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		errs = append(errs, fmt.Errorf("listing DaemonSets: %w", err))
	} else {
		for _, ds := range daemonSets.Items {
			inv.Workloads = append(inv.Workloads, workload("DaemonSet", ds.ObjectMeta, ds.Spec.Template.Spec))
		}
	}
	deployments, err := client.AppsV1().Deployments(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		errs = append(errs, fmt.Errorf("listing Deployments: %w", err))
	} else {
		for _, d := range deployments.Items {
			inv.Workloads = append(inv.Workloads, workload("Deployment", d.ObjectMeta, d.Spec.Template.Spec))
		}
	}
	groups, err := client.Discovery().ServerGroups()
	if err != nil {
		errs = append(errs, fmt.Errorf("listing API groups: %w", err))
	} else {
		for _, g := range groups.Groups {
			inv.APIGroups = append(inv.APIGroups, g.Name)
		}
	}
	if slices.Contains(inv.APIGroups, "crd.projectcalico.org") {
		inv.CalicoVersion, err = calicoVersion(ctx, client)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return inv, errors.Join(errs...)
}

func workload(kind string, meta metav1.ObjectMeta, pod corev1.PodSpec) cni.Workload {
	w := cni.Workload{Kind: kind, Namespace: meta.Namespace, Name: meta.Name}
	for _, c := range append(pod.InitContainers, pod.Containers...) {
		env := map[string]string{}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				env[e.Name] = e.Value
			}
		}
		w.Containers = append(w.Containers, cni.Container{Name: c.Name, Image: c.Image, Args: append(c.Command, c.Args...), Env: env})
	}
	return w
}

// calicoVersion reads spec.calicoVersion of Calico's ClusterInformation
// "default"; "" where Calico's CRDs are not installed.
func calicoVersion(ctx context.Context, client kubernetes.Interface) (string, error) {
	raw, err := client.Discovery().RESTClient().Get().
		AbsPath("/apis/crd.projectcalico.org/v1/clusterinformations/default").DoRaw(ctx)
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading Calico's ClusterInformation default: %w", err)
	}
	var info struct {
		Spec struct {
			CalicoVersion string `json:"calicoVersion"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(raw, &info); err != nil {
		return "", fmt.Errorf("decoding Calico's ClusterInformation default: %w", err)
	}
	return info.Spec.CalicoVersion, nil
}
