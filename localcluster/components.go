package localcluster

import (
	"fmt"
	"path/filepath"

	"github.com/netpol-conformance/netpol-conformance/localcluster/proc"
	"github.com/netpol-conformance/netpol-conformance/localcluster/render"
)

func (c *Cluster) bin(name string) string {
	return filepath.Join(c.opts.RepoRoot, "_output", "bin", name)
}

func (c *Cluster) etcdSpec() proc.Spec {
	return proc.Spec{
		Name: "etcd",
		Path: "/usr/bin/etcd", // Debian etcd-server 3.4 (docs/local-cluster.md, "etcd 3.4 with apiserver 1.34")
		Args: []string{
			"--name=" + NodeName,
			"--data-dir=" + c.path("etcd"),
			"--listen-client-urls=http://127.0.0.1:2379",
			"--advertise-client-urls=http://127.0.0.1:2379",
			"--listen-peer-urls=http://127.0.0.1:2380",
			"--initial-advertise-peer-urls=http://127.0.0.1:2380",
			"--initial-cluster=" + NodeName + "=http://127.0.0.1:2380",
		},
		Ports: []string{"127.0.0.1:2379", "127.0.0.1:2380"},
	}
}

func (c *Cluster) apiserverSpec(p render.Params) proc.Spec {
	pki := func(f string) string { return c.path("pki", f) }
	return proc.Spec{
		Name: "kube-apiserver",
		Path: c.bin("kube-apiserver"),
		Args: []string{
			"--etcd-servers=http://127.0.0.1:2379",
			// Not loopback: pods reach the apiserver by DNAT from the
			// kubernetes Service to this address (docs/local-cluster.md,
			// "apiserver on a non-loopback address").
			"--bind-address=" + p.NodeIP,
			"--advertise-address=" + p.NodeIP,
			fmt.Sprintf("--secure-port=%d", APIPort),
			"--service-cluster-ip-range=" + ServiceCIDR,
			"--tls-cert-file=" + pki("apiserver.crt"),
			"--tls-private-key-file=" + pki("apiserver.key"),
			"--client-ca-file=" + pki("ca.crt"),
			"--kubelet-client-certificate=" + pki("apiserver-kubelet-client.crt"),
			"--kubelet-client-key=" + pki("apiserver-kubelet-client.key"),
			"--service-account-key-file=" + pki("sa.pub"),
			"--service-account-signing-key-file=" + pki("sa.key"),
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			// The node name does not resolve; the apiserver reaches kubelet
			// (exec, logs) by the node IP.
			"--kubelet-preferred-address-types=InternalIP",
			"--authorization-mode=Node,RBAC",
			"--enable-admission-plugins=NodeRestriction",
			"--profiling=false",
			"--v=1",
		},
		Ports: []string{fmt.Sprintf("%s:%d", p.NodeIP, APIPort)},
	}
}

func (c *Cluster) controllerManagerSpec() proc.Spec {
	kc := c.path("controller-manager.kubeconfig")
	return proc.Spec{
		Name: "kube-controller-manager",
		Path: c.bin("kube-controller-manager"),
		Args: []string{
			"--kubeconfig=" + kc,
			"--authentication-kubeconfig=" + kc,
			"--authorization-kubeconfig=" + kc,
			"--bind-address=127.0.0.1",
			"--leader-elect=false",
			"--use-service-account-credentials=true",
			"--root-ca-file=" + c.path("pki", "ca.crt"),
			"--service-account-private-key-file=" + c.path("pki", "sa.key"),
			"--cluster-signing-cert-file=" + c.path("pki", "ca.crt"),
			"--cluster-signing-key-file=" + c.path("pki", "ca.key"),
			// Gives the node spec.podCIDR = NodePodCIDR, which the bridge
			// CNI's static range matches.
			"--allocate-node-cidrs=true",
			"--cluster-cidr=" + ClusterCIDR,
			"--node-cidr-mask-size=24",
			"--service-cluster-ip-range=" + ServiceCIDR,
			"--v=1",
		},
		Ports: []string{"127.0.0.1:10257"},
	}
}

func (c *Cluster) schedulerSpec() proc.Spec {
	kc := c.path("scheduler.kubeconfig")
	return proc.Spec{
		Name: "kube-scheduler",
		Path: c.bin("kube-scheduler"),
		Args: []string{
			"--kubeconfig=" + kc,
			"--authentication-kubeconfig=" + kc,
			"--authorization-kubeconfig=" + kc,
			"--bind-address=127.0.0.1",
			"--leader-elect=false",
			"--v=1",
		},
		Ports: []string{"127.0.0.1:10259"},
	}
}

func (c *Cluster) containerdSpec(n node) proc.Spec {
	return n.spec(proc.Spec{
		Name: "containerd",
		Path: "/usr/bin/containerd", // Debian 1.6 (docs/local-cluster.md, "containerd 1.6 with kubelet 1.34")
		Args: []string{"--config=" + n.path("containerd", "config.toml")},
	})
}

func (c *Cluster) kubeletSpec(n node, p render.Params) proc.Spec {
	return n.spec(proc.Spec{
		Name: "kubelet",
		Path: c.bin("kubelet"),
		Args: []string{
			"--config=" + n.path("kubelet-config.yaml"),
			"--kubeconfig=" + p.KubeletKubeconfig,
			"--hostname-override=" + n.Name,
			"--node-ip=" + p.NodeIP,
			"--root-dir=" + n.path("kubelet"),
			"--cert-dir=" + n.path("kubelet", "pki"),
			"--v=1",
		},
		Ports: []string{p.NodeIP + ":10250", "127.0.0.1:10248"},
	})
}

func (c *Cluster) kubeProxySpec(n node) proc.Spec {
	return n.spec(proc.Spec{
		Name:  "kube-proxy",
		Path:  c.bin("kube-proxy"),
		Args:  []string{"--config=" + n.path("kube-proxy-config.yaml"), "--v=1"},
		Ports: []string{"127.0.0.1:10256", "127.0.0.1:10249"},
	})
}
