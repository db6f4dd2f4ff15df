// Package smoke proves, on a running local cluster, that a real TCP
// connection between two pods is blocked by a default-deny ingress policy
// and restored by an allow policy (or, with enforcer "none", never blocked).
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
	e.server = e.runPod(ctx, t, "server", map[string]string{"role": "server"})
	client := e.runPod(ctx, t, "client", map[string]string{"role": "client"})
	target := net.JoinHostPort(e.server.Status.PodIP, "80")

	// 0. The cluster DNS resolves the kubernetes Service through its own
	// Service address, as every pod's resolv.conf names it.
	dns := net.JoinHostPort(localcluster.DNSServiceIP, "53") + "/UDP/dns"
	want := "NOERROR A " + localcluster.APIService
	if r := e.probe(ctx, t, client, dns); r.Outcome != agent.Allowed || r.Reply != want {
		t.Fatalf("kubernetes.default.svc.%s from %s via %s = %+v, want allowed with %q", localcluster.ClusterDomain, client.Name, dns, r, want)
	}

	// 1. Without policy the connection works: the probe path itself is sound.
	if r := e.probe(ctx, t, client, target); r.Outcome != agent.Allowed {
		t.Fatalf("before any policy: %s -> %s = %+v, want allowed", client.Name, target, r)
	} else if r.Reply != e.ns+"/server" {
		t.Fatalf("reply %q, want %s/server", r.Reply, e.ns)
	}

	// 2. Default-deny ingress for the server.
	e.apply(ctx, t, &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "default-deny-ingress"},
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
	})
	if expectEnforced {
		r := e.waitFor(ctx, t, client, target, func(o agent.Outcome) bool { return o == agent.DeniedRefused || o == agent.DeniedTimeout })
		t.Logf("default-deny: %s after policy creation (%s)", r.Outcome, r.Detail)
	} else {
		// Nothing enforces: the connection must stay open for the whole wait.
		deadline := time.Now().Add(enforcementWait)
		for time.Now().Before(deadline) {
			if r := e.probe(ctx, t, client, target); r.Outcome != agent.Allowed {
				t.Fatalf("enforcer none: default-deny changed the connection to %+v; it must stay open", r)
			}
			time.Sleep(time.Second)
		}
		t.Logf("default-deny: connection stayed open for %s, as expected without an enforcer", enforcementWait)
	}

	// 3. Allow ingress from the client to port 80 restores it.
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
	r := e.waitFor(ctx, t, client, target, func(o agent.Outcome) bool { return o == agent.Allowed })
	t.Logf("allow policy: %s (reply %q)", r.Outcome, r.Reply)

	// 4. Port 81 is not in the allow rule: still denied where enforced.
	other := net.JoinHostPort(e.server.Status.PodIP, "81")
	if r := e.probe(ctx, t, client, other); expectEnforced && r.Outcome == agent.Allowed {
		t.Errorf("port 81 is not allowed by any rule but %s -> %s = %+v", client.Name, other, r)
	} else if !expectEnforced && r.Outcome != agent.Allowed {
		t.Errorf("enforcer none: %s -> %s = %+v, want allowed", client.Name, other, r)
	}
}

func (e *env) runPod(ctx context.Context, t *testing.T, name string, labels map[string]string) *corev1.Pod {
	t.Helper()
	pod := workload.AgentPod(e.ns, name, labels)
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
