package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/netpol-conformance/netpol-conformance/agent"
	"github.com/netpol-conformance/netpol-conformance/cases"
	"github.com/netpol-conformance/netpol-conformance/clusterpolicy"
	"github.com/netpol-conformance/netpol-conformance/probing"
	"github.com/netpol-conformance/netpol-conformance/reachability"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

func intstrPort(p int) intstr.IntOrString { return intstr.FromInt32(int32(p)) }

// Options configure a run.
type Options struct {
	// RunID names this run's namespaces (netpol-<RunID>-x ...).
	RunID string
	// AgentImage and AgentBinary are the image the pods run and the path
	// of the netpol-conformance binary in it.
	AgentImage, AgentBinary string
	// Placement places the agent pods (node selector, tolerations, pull
	// secrets, resources).
	Placement AgentPlacement
	// ProbeTimeout bounds each probe.
	ProbeTimeout time.Duration
	// PodStartTimeout bounds the wait for the topology's pods.
	PodStartTimeout time.Duration
	// NodeProbes probes traffic from each node the pods run on, from a
	// host-network pod there (see NodeProberPod).
	NodeProbes bool
}

// Cluster is the standard topology living in a real cluster.
type Cluster struct {
	client kubernetes.Interface
	// dyn sends the cluster-wide policies, whose kinds are CRDs the
	// cluster may not serve.
	dyn    dynamic.Interface
	config *rest.Config
	opts   Options
	names  Names
	// Topology has the logical names of the case table and the real pod
	// IPs, so the model and placeholders see what the cluster sees.
	Topology *topology.Topology
	// Notes say what of the topology could not be set up here and so is
	// not probed (traffic from nodes, when the cluster refuses its
	// probers), once for the run.
	Notes []string
	// noDNS is true when the cluster has no ready DNS pod to probe.
	noDNS bool
	// serviceIPs holds, once EnsureServices ran, the ClusterIP of the
	// Service in front of each matrix pod.
	serviceIPs map[string]string
	// udpNext is the next free UDP source port (see udpPorts).
	udpMu      sync.Mutex
	udpNext    int
	udpWrapped time.Time
	// ClusterAPIs is what the cluster serves of the cluster-wide policy
	// APIs.
	ClusterAPIs ClusterPolicyAPIs
	// applied is what the cluster holds now.
	applied struct {
		policies []networkingv1.NetworkPolicy // logical namespaces
		cluster  []clusterpolicy.Object       // logical names
		topo     *topology.Topology
	}
}

// Setup creates the run's namespaces and agent pods, waits until every pod
// is ready, and records their IPs. On error the caller still calls
// Teardown: nothing is left behind.
func Setup(ctx context.Context, client kubernetes.Interface, config *rest.Config, opts Options) (*Cluster, error) {
	c := &Cluster{client: client, config: config, opts: opts, names: Names{}, Topology: topology.Standard()}
	for _, ns := range topology.StandardNamespaces {
		c.names[ns] = fmt.Sprintf("netpol-%s-%s", opts.RunID, ns)
	}
	var err error
	if c.ClusterAPIs, err = DiscoverClusterPolicyAPIs(client.Discovery()); err != nil {
		return c, err
	}
	if config != nil {
		if c.dyn, err = dynamic.NewForConfig(config); err != nil {
			return c, fmt.Errorf("creating a dynamic client: %w", err)
		}
	}
	// On two or more nodes the pods alternate between them, so that every
	// source has targets on its own node and on another: cross-node is
	// where encapsulation, source NAT and per-node agents decide.
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return c, fmt.Errorf("listing nodes to spread the pods over: %w", err)
	}
	spread := spreadNodes(nodes.Items, opts.Placement)
	k := 0
	for _, name := range topology.StandardNamespaces {
		ns := c.Topology.Namespace(name)
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: c.names.Real(name), Labels: c.namespaceLabels(ns.Labels)}}
		if _, err := client.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return c, fmt.Errorf("creating namespace %s: %w", obj.Name, err)
		}
		for i := range ns.Pods {
			pod := AgentPod(obj.Name, &ns.Pods[i], opts.AgentImage, opts.AgentBinary)
			opts.Placement.apply(pod)
			if len(spread) > 0 {
				pin(pod, spread[k%len(spread)])
				k++
			}
			if _, err := client.CoreV1().Pods(obj.Name).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				return c, fmt.Errorf("creating pod %s/%s: %w", obj.Name, pod.Name, err)
			}
		}
	}
	if err := c.waitReady(ctx); err != nil {
		return c, err
	}
	if err := c.resolveWellKnown(ctx); err != nil {
		return c, err
	}
	if opts.NodeProbes {
		note, err := c.addNodeProbers(ctx)
		if err != nil {
			return c, err
		}
		if note != "" {
			c.Notes = append(c.Notes, note)
		}
	}
	c.applied.topo = c.Topology.DeepCopy()
	return c, nil
}

// namespaceLabels are the case's labels plus ours: the run label, and Pod
// Security "restricted" enforced, so the API server itself proves that the
// agent pods need no privilege.
func (c *Cluster) namespaceLabels(labels map[string]string) map[string]string {
	out := maps.Clone(labels)
	if out == nil {
		out = map[string]string{}
	}
	out[RunLabel] = c.opts.RunID
	out[podSecurityEnforce] = "restricted"
	return out
}

const podSecurityEnforce = "pod-security.kubernetes.io/enforce"

// waitReady polls the pods until all are ready, then records their IPs.
func (c *Cluster) waitReady(ctx context.Context) error {
	var notReady []string
	err := wait.PollUntilContextTimeout(ctx, time.Second, c.opts.PodStartTimeout, true, func(ctx context.Context) (bool, error) {
		notReady = notReady[:0]
		for _, name := range topology.StandardNamespaces {
			ns := c.Topology.Namespace(name)
			for i := range ns.Pods {
				pod, err := c.client.CoreV1().Pods(c.names.Real(name)).Get(ctx, ns.Pods[i].Name, metav1.GetOptions{})
				if err != nil {
					return false, fmt.Errorf("getting pod %s/%s: %w", c.names.Real(name), ns.Pods[i].Name, err)
				}
				if !podReady(pod) || pod.Status.PodIP == "" {
					notReady = append(notReady, fmt.Sprintf("%s/%s (%s%s)", pod.Namespace, pod.Name, pod.Status.Phase, unschedulable(pod)))
					continue
				}
				ns.Pods[i].IP, ns.Pods[i].Node = pod.Status.PodIP, pod.Spec.NodeName
			}
		}
		return len(notReady) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the topology's pods to be ready: %w; not ready: %s", err, strings.Join(notReady, ", "))
	}
	return nil
}

// unschedulable is the scheduler's reason a pod has no node, ": ..." or
// "": a pod pinned to a full node says so, instead of only "Pending".
func unschedulable(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return ": unschedulable: " + c.Message
		}
	}
	return ""
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// resolveWellKnown gives the topology's well-known endpoints their real
// addresses: the cluster DNS pod and the API server's Service. A missing
// DNS keeps its model address, and Probeable says why it is not probed.
func (c *Cluster) resolveWellKnown(ctx context.Context) error {
	dns := c.Topology.Pod(topology.DNSPod)
	pods, err := c.client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=kube-dns"})
	if err != nil {
		return fmt.Errorf("listing DNS pods in kube-system: %w", err)
	}
	c.noDNS = true
	for _, p := range pods.Items {
		if podReady(&p) && p.Status.PodIP != "" {
			dns.IP, c.noDNS = p.Status.PodIP, false
			break
		}
	}
	svc, err := c.client.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("getting the kubernetes Service: %w", err)
	}
	for i := range c.Topology.Externals {
		if c.Topology.Externals[i].Name == topology.APIServer {
			c.Topology.Externals[i].IP = svc.Spec.ClusterIP
		}
	}
	return nil
}

// Probeable says whether the suite can probe from one endpoint to another
// here: probes start only in the suite's own agent pods, and a well-known
// destination must exist in this cluster.
func (c *Cluster) Probeable(from, to string) error {
	if ns, _, ok := topology.SplitPodKey(c.prober(from)); !ok || c.names[ns] == "" {
		return fmt.Errorf("probes start only in the suite's agent pods and node probers, and %s is neither", from)
	}
	if to == topology.DNSPod && c.noDNS {
		return errors.New("no ready pod labelled k8s-app=kube-dns in kube-system")
	}
	return nil
}

// Apply brings the cluster to a stage: policies created, updated or deleted
// and labels changed, each only where it differs from what is applied.
func (c *Cluster) Apply(ctx context.Context, s *cases.Stage) error {
	// The suite changes only its own namespaces: a case file may name
	// kube-system (the model knows it), but a policy there would outlive
	// the run and could cut the cluster's DNS.
	for _, p := range s.Policies {
		if _, ours := c.names[p.Namespace]; !ours {
			return fmt.Errorf("policy %s/%s: the suite creates policies only in its own namespaces (%s)", p.Namespace, p.Name, strings.Join(topology.StandardNamespaces, ", "))
		}
	}
	if s.Step != nil && s.Step.SetNamespaceLabels != nil {
		if _, ours := c.names[s.Step.SetNamespaceLabels.Namespace]; !ours {
			return fmt.Errorf("relabelling namespace %s: the suite changes only its own namespaces", s.Step.SetNamespaceLabels.Namespace)
		}
	}
	want := map[string]*networkingv1.NetworkPolicy{}
	for i := range s.Policies {
		p := &s.Policies[i]
		want[p.Namespace+"/"+p.Name] = p
	}
	for _, p := range c.applied.policies {
		if _, keep := want[p.Namespace+"/"+p.Name]; !keep {
			err := c.client.NetworkingV1().NetworkPolicies(c.names.Real(p.Namespace)).Delete(ctx, p.Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting policy %s/%s: %w", c.names.Real(p.Namespace), p.Name, err)
			}
		}
	}
	have := map[string]*networkingv1.NetworkPolicy{}
	for i := range c.applied.policies {
		p := &c.applied.policies[i]
		have[p.Namespace+"/"+p.Name] = p
	}
	for _, p := range s.Policies {
		real := c.names.Policy(&p)
		api := c.client.NetworkingV1().NetworkPolicies(real.Namespace)
		old, exists := have[p.Namespace+"/"+p.Name]
		switch {
		case !exists:
			if _, err := api.Create(ctx, real, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("creating policy %s/%s: %w", real.Namespace, real.Name, err)
			}
		case !equality.Semantic.DeepEqual(old.Spec, p.Spec):
			cur, err := api.Get(ctx, real.Name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("getting policy %s/%s: %w", real.Namespace, real.Name, err)
			}
			cur.Spec = real.Spec
			if _, err := api.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("updating policy %s/%s: %w", real.Namespace, real.Name, err)
			}
		}
	}
	if err := c.applyClusterPolicies(ctx, s.ClusterPolicies); err != nil {
		return err
	}
	if err := c.applyLabels(ctx, s.Topology); err != nil {
		return err
	}
	c.applied.policies = append([]networkingv1.NetworkPolicy(nil), s.Policies...)
	return nil
}

// applyLabels sets pod and namespace labels that differ from the applied
// topology's.
func (c *Cluster) applyLabels(ctx context.Context, want *topology.Topology) error {
	for _, name := range topology.StandardNamespaces {
		ns, old := want.Namespace(name), c.applied.topo.Namespace(name)
		if !maps.Equal(ns.Labels, old.Labels) {
			obj, err := c.client.CoreV1().Namespaces().Get(ctx, c.names.Real(name), metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("getting namespace %s: %w", c.names.Real(name), err)
			}
			labels := c.namespaceLabels(ns.Labels)
			// The control plane owns this one; keep it as it is.
			labels[topology.NamespaceNameLabel] = obj.Name
			obj.Labels = labels
			if _, err := c.client.CoreV1().Namespaces().Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("relabelling namespace %s: %w", obj.Name, err)
			}
		}
		for i := range ns.Pods {
			if maps.Equal(ns.Pods[i].Labels, old.Pods[i].Labels) {
				continue
			}
			pods := c.client.CoreV1().Pods(c.names.Real(name))
			obj, err := pods.Get(ctx, ns.Pods[i].Name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("getting pod %s/%s: %w", c.names.Real(name), ns.Pods[i].Name, err)
			}
			obj.Labels = maps.Clone(ns.Pods[i].Labels)
			if _, err := pods.Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("relabelling pod %s/%s: %w", obj.Namespace, obj.Name, err)
			}
		}
	}
	c.applied.topo = want.DeepCopy()
	return nil
}

// Reset removes every policy and restores the standard labels: the state
// every case starts from.
func (c *Cluster) Reset(ctx context.Context) error {
	for _, name := range topology.StandardNamespaces {
		ns := c.names.Real(name)
		if err := c.client.NetworkingV1().NetworkPolicies(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
			return fmt.Errorf("deleting the policies of %s: %w", ns, err)
		}
	}
	c.applied.policies = nil
	// Every cluster-wide policy of this run, also one an interrupted
	// Apply created without recording it.
	if c.dyn != nil && len(c.ClusterAPIs) > 0 {
		objs, err := RunClusterPolicies(ctx, c.dyn, c.ClusterAPIs, c.opts.RunID)
		if err != nil {
			return err
		}
		if err := DeleteClusterObjects(ctx, c.dyn, objs); err != nil {
			return err
		}
	}
	c.applied.cluster = nil
	return c.applyLabels(ctx, c.Topology)
}

// Teardown deletes every namespace and cluster-wide policy of this run.
func (c *Cluster) Teardown(ctx context.Context) error {
	return DeleteRun(ctx, c.client, c.dyn, c.opts.RunID)
}

// DeleteRun deletes the namespaces and the cluster-wide policies a run
// labelled, whether or not its process is still alive; runID "" deletes
// those of every run. dyn may be nil when the caller has no cluster-wide
// policy to delete.
func DeleteRun(ctx context.Context, client kubernetes.Interface, dyn dynamic.Interface, runID string) error {
	var errs []error
	if dyn != nil {
		served, err := DiscoverClusterPolicyAPIs(client.Discovery())
		if err == nil {
			var objs []ClusterObject
			if objs, err = RunClusterPolicies(ctx, dyn, served, runID); err == nil {
				err = DeleteClusterObjects(ctx, dyn, objs)
			}
		}
		errs = append(errs, err)
	}
	names, err := RunNamespaces(ctx, client, runID)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	return errors.Join(append(errs, DeleteNamespaces(ctx, client, names))...)
}

// runSelector selects what one run labelled, or every run when runID is
// empty. It is built from a requirement, never by pasting the id into a
// selector string: an id holding "," or "!" must not widen what is
// deleted.
func runSelector(runID string) (string, error) {
	op, values := selection.Exists, []string(nil)
	if runID != "" {
		op, values = selection.Equals, []string{runID}
	}
	req, err := labels.NewRequirement(RunLabel, op, values)
	if err != nil {
		return "", fmt.Errorf("run id %q: %w", runID, err)
	}
	return labels.NewSelector().Add(*req).String(), nil
}

// RunNamespaces lists the namespaces of one run, or of every run when
// runID is empty, leaving out those already being deleted.
func RunNamespaces(ctx context.Context, client kubernetes.Interface, runID string) ([]string, error) {
	sel, err := runSelector(runID)
	if err != nil {
		return nil, err
	}
	list, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("listing namespaces labelled %s: %w", sel, err)
	}
	var names []string
	for _, ns := range list.Items {
		if ns.DeletionTimestamp == nil { // not already being deleted
			names = append(names, ns.Name)
		}
	}
	return names, nil
}

// DeleteNamespaces deletes the named namespaces; one already gone is fine.
func DeleteNamespaces(ctx context.Context, client kubernetes.Interface, names []string) error {
	var errs []error
	for _, name := range names {
		if err := client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting namespace %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// ProbePass probes every (from, to) pair of the matrix for every key, with
// one exec per source pod, all sources at once; viaService probes each
// destination through its Service (see EnsureServices).
func (c *Cluster) ProbePass(ctx context.Context, keys []reachability.Key, viaService bool) (*probing.Observation, error) {
	return c.probePass(ctx, keys, viaService, func(int, int, int) int { return 1 })
}

// ConfirmPass probes the matrix as ProbePass does, then sends flows
// independent new flows to every cell expected denies: a cell is observed
// allowed when any of its flows was answered, so an enforcer that lets a
// share of new connections through is caught (see probing.ConfirmFlows).
// The two go out one after the other: the burst of repeated flows loads
// enforcers that judge new flows in user space (kube-network-policies held
// allowed flows past the probe timeout while it lasted, measured here), and
// only flows that must time out anyway may feel it.
func (c *Cluster) ConfirmPass(ctx context.Context, keys []reachability.Key, viaService bool, expected []*reachability.Table, flows int) (*probing.Observation, error) {
	obs, err := c.ProbePass(ctx, keys, viaService)
	if err != nil {
		return nil, err
	}
	denied, err := c.probePass(ctx, keys, viaService, func(ki, i, j int) int {
		if expected[ki].At(i, j).Outcome == reachability.Blocked {
			return flows
		}
		return 0
	})
	if err != nil {
		return nil, err
	}
	obs.Leaked += mergeConfirming(obs.Tables, denied.Tables)
	obs.Flows += denied.Flows
	obs.Leaked += denied.Leaked
	obs.Refused += denied.Refused
	obs.TimedOut += denied.TimedOut
	for cell, detail := range denied.Errors {
		obs.Errors[cell] = detail
	}
	return obs, nil
}

// mergeConfirming folds the repeated flows' observation of denied cells
// into the plain pass's, keeping for each cell the worst news: answered,
// then not probed, then denied. A denied cell the plain pass saw answered
// stays answered (an enforcer back from a restart denies again a second
// later; that is no confirmation), and is counted as a leaked flow, which
// it returns.
func mergeConfirming(plain, denied []*reachability.Table) int {
	rank := map[reachability.Outcome]int{reachability.Allowed: 3, reachability.ProbeError: 2, reachability.Blocked: 1}
	leaked := 0
	for ki := range plain {
		for i := range plain[ki].From {
			for j := range plain[ki].To {
				d := denied[ki].At(i, j)
				if d.Outcome == reachability.Unknown {
					continue // not a cell that must be denied
				}
				p := plain[ki].At(i, j)
				if p.Outcome == reachability.Allowed {
					leaked++
				}
				if rank[d.Outcome] > rank[p.Outcome] {
					plain[ki].SetAt(i, j, d)
				}
			}
		}
	}
	return leaked
}

// probePass probes the cells of the matrix flowsTo gives flows for (0:
// not probed, left Unknown), with one exec per source pod, all at once.
func (c *Cluster) probePass(ctx context.Context, keys []reachability.Key, viaService bool, flowsTo func(key, from, to int) int) (*probing.Observation, error) {
	if viaService && c.serviceIPs == nil {
		return nil, errors.New("probing through Services before EnsureServices")
	}
	// Rows are the sources (the matrix, then the nodes), columns the
	// matrix; through Services only the matrix (Topology.Rows).
	rows, matrix := c.Topology.Rows(viaService), c.Topology.MatrixKeys()
	obs := &probing.Observation{Errors: map[string]string{}}
	for _, k := range keys {
		obs.Tables = append(obs.Tables, reachability.New(k, rows, matrix))
	}
	// The UDP flows of a pass leave from a block of source ports no recent
	// pass used (each source pod has its own network namespace, so one
	// block serves them all; a node prober shares its node's, where a
	// port another process holds makes the agent fall back to one the
	// kernel picks).
	udpFlows := 0
	for i := range rows {
		n := 0
		for ki, k := range keys {
			for j := range matrix {
				if k.Protocol == corev1.ProtocolUDP {
					n += flowsTo(ki, i, j)
				}
			}
		}
		udpFlows = max(udpFlows, n)
	}
	udpBase := c.udpPorts(udpFlows)
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	for i, from := range rows {
		var targets []agent.Target
		var cells [][2]int // (table, column) per target
		for ki, k := range keys {
			for j, to := range matrix {
				n := flowsTo(ki, i, j)
				if n == 0 {
					continue
				}
				targets = append(targets, agent.Target{Host: c.target(to, viaService), Port: int(k.Port), Protocol: string(k.Protocol),
					Expect: c.identity(to), Flows: n})
				cells = append(cells, [2]int{ki, j})
			}
		}
		if len(targets) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results, err := c.probe(ctx, from, targets, udpBase)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			for n, r := range results {
				t, j := obs.Tables[cells[n][0]], cells[n][1]
				t.SetAt(i, j, reachability.Cell{Outcome: probing.OutcomeOf(r.Outcome)})
				obs.Flows += max(r.Flows, 1)
				if r.Flows > 1 && r.Answered > 0 {
					obs.Leaked += r.Answered
				}
				switch r.Outcome {
				case agent.DeniedRefused:
					obs.Refused++
				case agent.DeniedTimeout:
					obs.TimedOut++
				case agent.Error:
					obs.Errors[fmt.Sprintf("%s -> %s %s", from, matrix[j], t.Key)] = r.Detail
				}
			}
		}()
	}
	wg.Wait()
	return obs, errors.Join(errs...)
}

// UDP source ports the probes leave from: below the kernel's ephemeral
// range, so no port the kernel picks for another socket collides, handed
// out in rotating blocks. A port comes back only after udpReuseAfter, more
// than twice the 30 s an unreplied UDP conntrack entry lives: a probe that
// reused a live entry's 5-tuple would ride a flow allowed before.
const (
	firstUDPPort, endUDPPorts = 10000, 32768
	udpReuseAfter             = 65 * time.Second
)

// udpPorts reserves n consecutive source ports and returns the first,
// waiting when the range would come back too soon.
func (c *Cluster) udpPorts(n int) int {
	c.udpMu.Lock()
	defer c.udpMu.Unlock()
	n = min(n, endUDPPorts-firstUDPPort)
	if c.udpNext < firstUDPPort {
		c.udpNext, c.udpWrapped = firstUDPPort, time.Now()
	}
	if c.udpNext+n > endUDPPorts {
		if wait := udpReuseAfter - time.Since(c.udpWrapped); wait > 0 {
			time.Sleep(wait)
		}
		c.udpNext, c.udpWrapped = firstUDPPort, time.Now()
	}
	base := c.udpNext
	c.udpNext += n
	return base
}

// ProbeOne probes a single cell (a case's probe outside the matrix) with
// flows new flows at once (see ConfirmPass); allowed when any is answered.
func (c *Cluster) ProbeOne(ctx context.Context, from, to string, key reachability.Key, flows int) (agent.Result, error) {
	addr := ""
	if p := c.Topology.Pod(to); p != nil {
		addr = p.IP
	}
	for _, e := range c.Topology.Externals {
		if e.Name == to {
			addr = e.IP
		}
	}
	target := agent.Target{Host: addr, Port: int(key.Port), Protocol: string(key.Protocol), Expect: c.identity(to), Flows: flows}
	switch {
	case to == topology.DNSPod:
		// A DNS server answers DNS queries only.
		target.Mode = agent.ModeDNS
	case c.Topology.Pod(to) == nil && key.Protocol == corev1.ProtocolTCP:
		// Not an agent (the API server): a completed connection is the
		// answer, since such servers wait for the client to speak.
		target.Mode = agent.ModeConnect
	}
	udpBase := 0
	if key.Protocol == corev1.ProtocolUDP {
		udpBase = c.udpPorts(max(flows, 1))
	}
	results, err := c.probe(ctx, from, []agent.Target{target}, udpBase)
	if err != nil {
		return agent.Result{}, err
	}
	return results[0], nil
}

// prober is the pod a source's probes start in: a node's prober for a
// node, the pod itself otherwise.
func (c *Cluster) prober(from string) string {
	for _, e := range c.Topology.Externals {
		if e.Name == from && e.Prober != "" {
			return e.Prober
		}
	}
	return from
}

// identity is the answer the agent of a topology pod gives: its real
// namespace and name. Endpoints that are not our agents have none.
func (c *Cluster) identity(key string) string {
	if c.Topology.Pod(key) == nil || key == topology.DNSPod {
		return ""
	}
	ns, name, _ := topology.SplitPodKey(key)
	return c.names.Real(ns) + "/" + name
}

// probe runs the agent's batch probe in one source pod through the API
// server's exec and decodes one JSON line per target.
func (c *Cluster) probe(ctx context.Context, from string, targets []agent.Target, udpPortBase int) ([]agent.Result, error) {
	ns, name, _ := topology.SplitPodKey(c.prober(from))
	// Every flow in flight at once: a denied flow waits the whole timeout,
	// so a pass costs one timeout however many flows it sends.
	flows := 0
	for _, t := range targets {
		flows += max(t.Flows, 1)
	}
	cmd := []string{c.opts.AgentBinary, "agent", "probe", "--timeout", c.opts.ProbeTimeout.String(),
		"--udp-source-port-base", strconv.Itoa(udpPortBase), "--parallel", strconv.Itoa(flows)}
	for _, t := range targets {
		cmd = append(cmd, "--to", t.String())
	}
	req := c.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(c.names.Real(ns)).Name(name).
		SubResource("exec").VersionedParams(&corev1.PodExecOptions{Container: "agent", Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	exec, err := remotecommand.NewSPDYExecutor(c.config, "POST", req.URL())
	if err != nil {
		return nil, fmt.Errorf("exec into %s/%s: %w", c.names.Real(ns), name, err)
	}
	// Probes run concurrently inside the agent, so one exec costs about
	// one probe timeout plus the exec's own overhead.
	ctx, cancel := context.WithTimeout(ctx, 3*c.opts.ProbeTimeout+30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if err := exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}); err != nil {
		return nil, fmt.Errorf("probing from %s/%s: %w (stderr: %s)", c.names.Real(ns), name, err, strings.TrimSpace(stderr.String()))
	}
	dec := json.NewDecoder(&stdout)
	results := make([]agent.Result, 0, len(targets))
	for dec.More() {
		var r agent.Result
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("decoding probe output from %s/%s: %w", c.names.Real(ns), name, err)
		}
		results = append(results, r)
	}
	if len(results) != len(targets) {
		return nil, fmt.Errorf("probe in %s/%s returned %d results for %d targets (stderr: %s)", c.names.Real(ns), name, len(results), len(targets), strings.TrimSpace(stderr.String()))
	}
	return results, nil
}

// AgentRestarts returns each topology pod's container restart count and
// container ID. A destination that restarted during a case answered with
// resets while it was down, which reads as a denial the policy never made:
// the case compares these before and after.
func (c *Cluster) AgentRestarts(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range topology.StandardNamespaces {
		pods, err := c.client.CoreV1().Pods(c.names.Real(name)).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing the pods of %s: %w", c.names.Real(name), err)
		}
		for _, p := range pods.Items {
			for _, s := range p.Status.ContainerStatuses {
				out[topology.PodKey(name, p.Name)] += fmt.Sprintf("%s restarts=%d;", s.ContainerID, s.RestartCount)
			}
		}
	}
	return out, nil
}
