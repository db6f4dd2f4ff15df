package localcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/netpol-conformance/netpol-conformance/localcluster/workload"
)

// enforcerUser is the identity in the enforcer's client certificate.
const enforcerUser = "netpol-local:enforcer"

func (c *Cluster) client() (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.KubeconfigPath())
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", c.KubeconfigPath(), err)
	}
	cfg.Timeout = 10 * time.Second
	return kubernetes.NewForConfig(cfg)
}

// bootstrapRBAC lets the enforcer read what a NetworkPolicy implementation
// reads (pods, namespaces, nodes, services, endpoints, policies) and write
// events; nothing more.
func (c *Cluster) bootstrapRBAC(ctx context.Context) error {
	cs, err := c.client()
	if err != nil {
		return err
	}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: enforcerUser},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"", "networking.k8s.io", "discovery.k8s.io", "policy.networking.k8s.io"}, Resources: []string{"*"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch", "update"}},
		},
	}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating ClusterRole %s: %w", role.Name, err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: enforcerUser},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: enforcerUser}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating ClusterRoleBinding %s: %w", binding.Name, err)
	}
	return nil
}

// forgetStaleNodes deletes the Nodes of an earlier cluster of this state
// dir that this one does not have (its etcd is kept: a one-node cluster
// brought up again as two nodes still lists the host node), with their
// pods, which nothing runs any more. The pod garbage collector would take
// 40 s, and until then the cluster DNS and the suite would see pods that
// answer nothing.
func (c *Cluster) forgetStaleNodes(ctx context.Context, keep []string) error {
	cs, err := c.client()
	if err != nil {
		return err
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	now := metav1.DeleteOptions{GracePeriodSeconds: new(int64)}
	for _, n := range nodes.Items {
		if slices.Contains(keep, n.Name) {
			continue
		}
		// The Node goes first: deleting its pods first let the
		// ReplicaSet's replacement be scheduled to the node still there,
		// to be orphaned with it and force-deleted only by the pod
		// garbage collector, 40 s later (measured in CI: the cluster
		// DNS waited for it). Its pods are still listed by their
		// spec.nodeName.
		if err := cs.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting stale node %s: %w", n.Name, err)
		}
		pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + n.Name})
		if err != nil {
			return fmt.Errorf("listing the pods of stale node %s: %w", n.Name, err)
		}
		for _, p := range pods.Items {
			if err := cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, now); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting pod %s/%s of stale node %s: %w", p.Namespace, p.Name, n.Name, err)
			}
		}
		c.logf("deleted node %s of an earlier cluster of this state dir, with its %d pods", n.Name, len(pods.Items))
	}
	return nil
}

// annotateNode merges annotations into node name's metadata.
func (c *Cluster) annotateNode(ctx context.Context, name string, annotations map[string]string) error {
	cs, err := c.client()
	if err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
	if err != nil {
		return fmt.Errorf("encoding the annotations of node %s: %w", name, err)
	}
	if _, err := cs.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("annotating node %s: %w", name, err)
	}
	return nil
}

// waitNodeReady polls the node until its Ready condition is True.
func (c *Cluster) waitNodeReady(ctx context.Context, name string, timeout time.Duration) error {
	cs, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := "not registered"
	for {
		if node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); err == nil {
			last = "Ready condition missing"
			for _, cond := range node.Status.Conditions {
				if cond.Type == corev1.NodeReady {
					if cond.Status == corev1.ConditionTrue {
						return nil
					}
					last = fmt.Sprintf("Ready=%s: %s", cond.Status, cond.Message)
				}
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s not Ready after %s: %s", name, timeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// waitPodCIDR returns the pod CIDR the controller manager gives the node
// once it has registered.
func (c *Cluster) waitPodCIDR(ctx context.Context, name string, timeout time.Duration) (string, error) {
	cs, err := c.client()
	if err != nil {
		return "", err
	}
	var cidr string
	last := "not registered"
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		cidr, last = node.Spec.PodCIDR, "registered, no spec.podCIDR yet"
		return cidr != "", nil
	})
	if err != nil {
		return "", fmt.Errorf("node %s has no pod CIDR after %s: %s", name, timeout, last)
	}
	return cidr, nil
}

// runCheckPod proves the node runs pods: an agent pod reaches Running, then
// is deleted.
func (c *Cluster) runCheckPod(ctx context.Context, timeout time.Duration) error {
	cs, err := c.client()
	if err != nil {
		return err
	}
	const ns, name = "default", "netpol-local-check"
	_ = cs.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
	pod := workload.AgentPod(ns, name, map[string]string{"app.kubernetes.io/managed-by": "netpol-conformance-local"})
	t0 := time.Now()
	for {
		_, err = cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err == nil {
			break
		}
		// Right after start the default ServiceAccount may not exist yet.
		if !apierrors.IsAlreadyExists(err) && time.Since(t0) < 20*time.Second {
			time.Sleep(500 * time.Millisecond)
			continue
		}
		return fmt.Errorf("creating pod %s/%s: %w", ns, name, err)
	}
	defer func() {
		_ = cs.CoreV1().Pods(ns).Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
	}()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	for {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			if p.Status.Phase == corev1.PodRunning {
				c.logf("test pod %s/%s Running %s after creation", ns, name, time.Since(t0).Round(100*time.Millisecond))
				return nil
			}
			last = string(p.Status.Phase)
			for _, st := range p.Status.ContainerStatuses {
				if w := st.State.Waiting; w != nil {
					last += fmt.Sprintf(" (%s: %s)", w.Reason, w.Message)
				}
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pod %s/%s not Running after %s: %s", ns, name, timeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
