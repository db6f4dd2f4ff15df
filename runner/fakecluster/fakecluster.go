// Package fakecluster is a runner.Cluster for unit tests of the runner: it
// answers every probe from the model of the policies applied to it, as a
// conformant enforcer would, and injects the faults a test asks for
// (leaks, flaps, lag, errors, a CNI's reading, a restarted agent). It is
// never the evidence that the suite works on a cluster; the real cluster
// is (.ci/faults.sh, .ci/leak.sh).
package fakecluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"

	"github.com/netpol-conformance/netpol-conformance/agent"
	"github.com/netpol-conformance/netpol-conformance/cases"
	"github.com/netpol-conformance/netpol-conformance/clusterpolicy"
	"github.com/netpol-conformance/netpol-conformance/model"
	"github.com/netpol-conformance/netpol-conformance/probing"
	"github.com/netpol-conformance/netpol-conformance/reachability"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

// Cell names one cell of a table.
type Cell struct {
	From, To string
	Key      reachability.Key
}

// Cluster is the fake. Set its fault fields before use; the zero faults
// make a conformant cluster that enforces every change at once.
type Cluster struct {
	// Topology is the standard topology the fake runs.
	Topology *topology.Topology

	// NotEnforced makes every flow allowed, as with no enforcer at all.
	NotEnforced bool
	// Reading is enforced in place of the spec, as a CNI with that
	// reading of it would ("" is the spec).
	Reading model.Reading
	// Lag is how many probe calls after a change still see the state
	// before it: the enforcer's time to enforce, counted in passes.
	Lag int
	// Leak is the share of new flows let through on a cell the enforced
	// state denies, for the cells Leaky selects (nil: every cell).
	Leak  float64
	Leaky func(Cell) bool
	// Flap inverts a cell's observed outcome in the given probe call
	// (counted from 1 over every ProbePass, ConfirmPass and ProbeOne).
	Flap func(call int, c Cell) bool
	// Err fails the given probe call.
	Err func(call int) error
	// RestartAgentAfter reports agent x/a restarted once AgentRestarts has
	// been called that many times (0: never).
	RestartAgentAfter int
	// Absent are destinations the fake cannot probe, with the reason (a
	// cluster without a DNS pod labelled k8s-app=kube-dns).
	Absent map[string]string

	mu       sync.Mutex
	rnd      *rand.Rand
	base     *topology.Topology
	enforced *cases.Stage
	previous *cases.Stage
	changed  int // the call count at the last change
	calls    int
	restarts int
	// Applied counts Apply and Reset calls; Flows the flows sent.
	Applied, Flows int
}

// New returns a conformant fake on the standard topology, its random
// choices seeded for reproducible tests.
func New(seed int64) *Cluster {
	t := topology.Standard()
	for i := range t.Namespaces {
		for j := range t.Namespaces[i].Pods {
			t.Namespaces[i].Pods[j].Node = "fake-node"
		}
	}
	return &Cluster{Topology: t, base: t, rnd: rand.New(rand.NewSource(seed)),
		enforced: &cases.Stage{Topology: t}, previous: &cases.Stage{Topology: t}}
}

// SpreadOverNodes places the pods on n nodes, fake-node-1 … in turn, and
// adds each node as the real cluster does: a host-network prober pod in
// namespace "nodes" and an external node-K probed from it. Call it before
// use.
func (c *Cluster) SpreadOverNodes(n int) {
	t := c.base
	k := 0
	for i := range t.Namespaces {
		for j := range t.Namespaces[i].Pods {
			t.Namespaces[i].Pods[j].Node = fmt.Sprintf("fake-node-%d", k%n+1)
			k++
		}
	}
	probers := topology.Namespace{Name: "nodes"}
	for i := 1; i <= n; i++ {
		name, node, ip := fmt.Sprintf("node-%d", i), fmt.Sprintf("fake-node-%d", i), fmt.Sprintf("10.30.0.%d", i)
		probers.Pods = append(probers.Pods, topology.Pod{Name: name, IP: ip, HostNetwork: true, Node: node})
		t.Externals = append(t.Externals, topology.External{Name: name, IP: ip, Node: true, NodeName: node, Prober: "nodes/" + name})
	}
	t.Namespaces = append(t.Namespaces, probers)
}

// Reset removes every policy and restores the labels.
func (c *Cluster) Reset(ctx context.Context) error {
	return c.Apply(ctx, &cases.Stage{Topology: c.base})
}

// Apply makes s the enforced state, Lag probe calls from now.
func (c *Cluster) Apply(_ context.Context, s *cases.Stage) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.previous, c.enforced, c.changed = c.current(), s, c.calls
	c.Applied++
	return nil
}

// current is the state the enforcer has reached by now.
func (c *Cluster) current() *cases.Stage {
	if c.calls-c.changed <= c.Lag && c.Lag > 0 {
		return c.previous
	}
	return c.enforced
}

// EnsureServices has nothing to create: the fake probes pods directly.
func (c *Cluster) EnsureServices(context.Context, []reachability.Key) error { return nil }

// Probeable allows probes from the sources only (the matrix's pods, then
// the nodes with a prober), as the real one,
// and to any destination but the Absent ones.
func (c *Cluster) Probeable(from, to string) error {
	if why, ok := c.Absent[to]; ok {
		return errors.New(why)
	}
	for _, k := range c.base.SourceKeys() {
		if k == from {
			return nil
		}
	}
	return fmt.Errorf("%s is not an agent pod", from)
}

// AgentRestarts reports x/a's restart count, which goes up once when
// RestartAgentAfter says.
func (c *Cluster) AgentRestarts(context.Context) (map[string]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.restarts++
	n := 0
	if c.RestartAgentAfter > 0 && c.restarts > c.RestartAgentAfter {
		n = 1
	}
	return map[string]string{"x/a": fmt.Sprintf("restarts=%d", n)}, nil
}

// call starts one probe call: the state it sees and its error, if any.
func (c *Cluster) call() (int, *model.Model, error) {
	c.calls++
	if c.Err != nil {
		if err := c.Err(c.calls); err != nil {
			return c.calls, nil, err
		}
	}
	s := c.current()
	var m *model.Model
	var err error
	if c.Reading != "" {
		m, err = model.NewReading(s.Topology, c.base, s.Policies, clusterpolicy.Model(s.ClusterPolicies), []model.Reading{c.Reading})
	} else {
		m, err = s.Model()
	}
	return c.calls, m, err
}

// allowed says whether flows new flows on cell get through in call.
func (c *Cluster) allowed(call int, m *model.Model, cell Cell, flows int) (bool, int, error) {
	leaked := 0
	ok := true
	if !c.NotEnforced {
		v, err := m.Evaluate(model.Traffic{From: cell.From, To: cell.To, Port: cell.Key.Port, Protocol: cell.Key.Protocol})
		if err != nil {
			return false, 0, err
		}
		ok = v.Allowed
		if !ok && (c.Leaky == nil || c.Leaky(cell)) {
			for range flows {
				if c.rnd.Float64() < c.Leak {
					leaked++
				}
			}
			ok = leaked > 0
		}
	}
	c.Flows += flows
	if c.Flap != nil && c.Flap(call, cell) {
		ok = !ok
	}
	return ok, leaked, nil
}

// ProbePass probes every cell once.
func (c *Cluster) ProbePass(_ context.Context, keys []reachability.Key, viaService bool) (*probing.Observation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	call, m, err := c.call()
	if err != nil {
		return nil, err
	}
	return c.pass(call, m, keys, viaService, nil, 0)
}

// ConfirmPass probes every cell once and every cell expected denies with
// flows new flows: any one answered makes the cell allowed.
func (c *Cluster) ConfirmPass(_ context.Context, keys []reachability.Key, viaService bool, expected []*reachability.Table, flows int) (*probing.Observation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	call, m, err := c.call()
	if err != nil {
		return nil, err
	}
	return c.pass(call, m, keys, viaService, expected, flows)
}

func (c *Cluster) pass(call int, m *model.Model, keys []reachability.Key, viaService bool, expected []*reachability.Table, flows int) (*probing.Observation, error) {
	rows, matrix := c.base.Rows(viaService), c.base.MatrixKeys()
	obs := &probing.Observation{Errors: map[string]string{}}
	for ki, k := range keys {
		t := reachability.New(k, rows, matrix)
		for i, from := range rows {
			for j, to := range matrix {
				n := 1
				if expected != nil && expected[ki].At(i, j).Outcome == reachability.Blocked {
					n = 1 + flows
				}
				ok, leaked, err := c.allowed(call, m, Cell{from, to, k}, n)
				if err != nil {
					return nil, err
				}
				if n > 1 {
					obs.Leaked += leaked
				}
				obs.Flows += n
				if !ok {
					obs.TimedOut++
				}
				t.SetAt(i, j, reachability.Cell{Outcome: reachability.OutcomeFor(ok)})
			}
		}
		obs.Tables = append(obs.Tables, t)
	}
	return obs, nil
}

// ProbeOne probes one cell with flows new flows.
func (c *Cluster) ProbeOne(_ context.Context, from, to string, key reachability.Key, flows int) (agent.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	call, m, err := c.call()
	if err != nil {
		return agent.Result{}, err
	}
	ok, _, err := c.allowed(call, m, Cell{from, to, key}, flows)
	if err != nil {
		return agent.Result{}, err
	}
	if ok {
		return agent.Result{To: to, Outcome: agent.Allowed, Reply: to}, nil
	}
	return agent.Result{To: to, Outcome: agent.DeniedTimeout, Detail: "i/o timeout"}, nil
}
