// Package smoke proves, on a running local cluster, that a real TCP
// connection between two pods is blocked by a default-deny ingress policy
// and restored by an allow policy (or, with enforcer "none", never blocked).
// On a cluster of two or more nodes each step is proved for a client on the
// server's node and for one on another node, and the server's Service is
// reached across nodes.
//
//	NETPOL_LOCAL_KUBECONFIG=$(netpol-conformance local kubeconfig) \
//	NETPOL_EXPECT_ENFORCED=true go test ./localcluster/smoke -v
package smoke

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/netpol-conformance/netpol-conformance/agent"
	"github.com/netpol-conformance/netpol-conformance/localcluster"
	"github.com/netpol-conformance/netpol-conformance/localcluster/images"
	"github.com/netpol-conformance/netpol-conformance/localcluster/workload"
)

const (
	// enforcementWait bounds how long a policy may take to take effect.
	enforcementWait = 20 * time.Second
	probeTimeout    = 2 * time.Second
	cleanupLabel    = "netpol-conformance.io/smoke"
)

type env struct {
	cs     kubernetes.Interface
	cfg    *rest.Config
	ns     string
	server *corev1.Pod
}

func TestPolicyBlocksAndAllowRestores(t *testing.T) {
	kubeconfig := os.Getenv("NETPOL_LOCAL_KUBECONFIG")
	if kubeconfig == "" {
		t.Skip("NETPOL_LOCAL_KUBECONFIG is not set: this test needs a running cluster (netpol-conformance local up)")
	}
	expectEnforced, err := strconv.ParseBool(os.Getenv("NETPOL_EXPECT_ENFORCED"))
	if err != nil {
		t.Fatalf("NETPOL_EXPECT_ENFORCED must be true or false (does the enforcer enforce NetworkPolicy?): %v", err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("loading %s: %v", kubeconfig, err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: "netpol-smoke-",
		Labels:       map[string]string{cleanupLabel: "true", "pod-security.kubernetes.io/enforce": "restricted"},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	// Deleting the namespace deletes the pods and policies in it, whatever
	// the outcome of the test.
	t.Cleanup(func() {
		if err := cs.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("deleting namespace %s: %v", ns.Name, err)
		}
	})
	e := &env{cs: cs, cfg: cfg, ns: ns.Name}
	nodes := e.readyNodes(ctx, t)
	e.server = e.runPod(ctx, t, "server", nodes[0], map[string]string{"role": "server"})
	// One client on the server's node; on a multi-node cluster, one more
	// on another node, where encapsulation, routing and per-node agents
	// decide.
	clients := []*corev1.Pod{e.runPod(ctx, t, "client", nodes[0], map[string]string{"role": "client"})}
	if len(nodes) > 1 {
		clients = append(clients, e.runPod(ctx, t, "client-far", nodes[1], map[string]string{"role": "client"}))
	}
	target := net.JoinHostPort(e.server.Status.PodIP, "80")
	for _, c := range clients {
		t.Logf("%s on node %s, server on node %s", c.Name, c.Spec.NodeName, e.server.Spec.NodeName)
	}

	// 0. The cluster DNS resolves the kubernetes Service through its own
	// Service address, as every pod's resolv.conf names it.
	dns := net.JoinHostPort(localcluster.DNSServiceIP, "53") + "/UDP/dns"
	want := "NOERROR A " + localcluster.APIService
	for _, c := range clients {
		if r := e.probe(ctx, t, c, dns); r.Outcome != agent.Allowed || r.Reply != want {
			t.Fatalf("kubernetes.default.svc.%s from %s via %s = %+v, want allowed with %q", localcluster.ClusterDomain, c.Name, dns, r, want)
		}
	}

	// 1. Without policy the connection works, to the pod and through its
	// Service: the probe path itself is sound.
	svc := e.service(ctx, t, "server", map[string]string{"role": "server"})
	for _, c := range clients {
		if r := e.probe(ctx, t, c, target); r.Outcome != agent.Allowed {
			t.Fatalf("before any policy: %s -> %s = %+v, want allowed", c.Name, target, r)
		} else if r.Reply != e.ns+"/server" {
			t.Fatalf("%s -> %s: reply %q, want %s/server", c.Name, target, r.Reply, e.ns)
		}
		// kube-proxy programs a new Service within its sync period.
		to := net.JoinHostPort(svc.Spec.ClusterIP, "80")
		if r := e.waitFor(ctx, t, c, to, func(o agent.Outcome) bool { return o == agent.Allowed }); r.Reply != e.ns+"/server" {
			t.Fatalf("%s -> Service %s: reply %q, want %s/server", c.Name, to, r.Reply, e.ns)
		}
	}

	// 2. Default-deny ingress for the server.
	e.apply(ctx, t, &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "default-deny-ingress"},
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
	})
	for _, c := range clients {
		if expectEnforced {
			r := e.waitFor(ctx, t, c, target, func(o agent.Outcome) bool { return o == agent.DeniedRefused || o == agent.DeniedTimeout })
			t.Logf("default-deny: %s -> server %s after policy creation (%s)", c.Name, r.Outcome, r.Detail)
			continue
		}
		// Nothing enforces: the connection must stay open for the whole wait.
		deadline := time.Now().Add(enforcementWait / time.Duration(len(clients)))
		for time.Now().Before(deadline) {
			if r := e.probe(ctx, t, c, target); r.Outcome != agent.Allowed {
				t.Fatalf("enforcer none: default-deny changed %s -> server to %+v; it must stay open", c.Name, r)
			}
			time.Sleep(time.Second)
		}
		t.Logf("default-deny: %s -> server stayed open, as expected without an enforcer", c.Name)
	}

	// 3. Allow ingress from the clients to port 80 restores it.
	port80 := intstr.FromInt32(80)
	e.apply(ctx, t, &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "allow-client"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"role": "server"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "client"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: &port80}},
			}},
		},
	})
	other := net.JoinHostPort(e.server.Status.PodIP, "81")
	for _, c := range clients {
		r := e.waitFor(ctx, t, c, target, func(o agent.Outcome) bool { return o == agent.Allowed })
		t.Logf("allow policy: %s -> server %s (reply %q)", c.Name, r.Outcome, r.Reply)

		// 4. Port 81 is not in the allow rule: still denied where enforced.
		if r := e.probe(ctx, t, c, other); expectEnforced && r.Outcome == agent.Allowed {
			t.Errorf("port 81 is not allowed by any rule but %s -> %s = %+v", c.Name, other, r)
		} else if !expectEnforced && r.Outcome != agent.Allowed {
			t.Errorf("enforcer none: %s -> %s = %+v, want allowed", c.Name, other, r)
		}
	}
}

// readyNodes lists the cluster's Ready nodes, the first one first by name.
func (e *env) readyNodes(ctx context.Context, t *testing.T) []string {
	t.Helper()
	list, err := e.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("listing nodes: %v", err)
	}
	var out []string
	for _, n := range list.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				out = append(out, n.Name)
			}
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		t.Fatal("no node is Ready")
	}
	return out
}

// service puts a ClusterIP Service on port 80 in front of the pods of sel.
func (e *env) service(ctx context.Context, t *testing.T, name string, sel map[string]string) *corev1.Service {
	t.Helper()
	svc, err := e.cs.CoreV1().Services(e.ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.ServiceSpec{Selector: sel, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(80)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating Service %s/%s: %v", e.ns, name, err)
	}
	return svc
}

// runPod runs an agent pod on the node, bypassing the scheduler so that
// where it runs is the test's choice.
func (e *env) runPod(ctx context.Context, t *testing.T, name, node string, labels map[string]string) *corev1.Pod {
	t.Helper()
	pod := workload.AgentPod(e.ns, name, labels)
	pod.Spec.NodeName = node
	if _, err := e.cs.CoreV1().Pods(e.ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating pod %s/%s: %v", e.ns, name, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		p, err := e.cs.CoreV1().Pods(e.ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s/%s not Running after 60s: %v %+v", e.ns, name, err, p.Status)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (e *env) apply(ctx context.Context, t *testing.T, np *networkingv1.NetworkPolicy) {
	t.Helper()
	if _, err := e.cs.NetworkingV1().NetworkPolicies(e.ns).Create(ctx, np, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating NetworkPolicy %s/%s: %v", e.ns, np.Name, err)
	}
}

// waitFor probes until want(outcome) holds or enforcementWait passes. A probe
// that could not run (outcome error) fails the test at once: it is never
// taken for "blocked".
func (e *env) waitFor(ctx context.Context, t *testing.T, from *corev1.Pod, to string, want func(agent.Outcome) bool) agent.Result {
	t.Helper()
	start := time.Now()
	var r agent.Result
	for time.Since(start) < enforcementWait {
		r = e.probe(ctx, t, from, to)
		if r.Outcome == agent.Error {
			t.Fatalf("probe %s -> %s could not run: %+v", from.Name, to, r)
		}
		if want(r.Outcome) {
			t.Logf("%s -> %s reached %s after %s", from.Name, to, r.Outcome, time.Since(start).Round(10*time.Millisecond))
			return r
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s -> %s still %+v after %s", from.Name, to, r, enforcementWait)
	return r
}

// probe runs `netpol-conformance agent probe` in the client pod through the
// API server's exec (SPDY) and decodes its JSON line.
func (e *env) probe(ctx context.Context, t *testing.T, from *corev1.Pod, to string) agent.Result {
	t.Helper()
	req := e.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(from.Namespace).Name(from.Name).
		SubResource("exec").VersionedParams(&corev1.PodExecOptions{
		Container: "agent",
		Command:   []string{images.AgentBinary, "agent", "probe", "--to", to, "--timeout", probeTimeout.String()},
		Stdout:    true,
		Stderr:    true,
	}, scheme.ParameterCodec)
	exec, err := remotecommand.NewSPDYExecutor(e.cfg, "POST", req.URL())
	if err != nil {
		t.Fatalf("exec into %s: %v", from.Name, err)
	}
	var stdout, stderr bytes.Buffer
	if err := exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}); err != nil {
		t.Fatalf("exec probe in %s/%s: %v (stderr: %s)", from.Namespace, from.Name, err, stderr.String())
	}
	var r agent.Result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("decoding probe output %q: %v", stdout.String(), err)
	}
	return r
}
