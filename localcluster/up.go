package localcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/netpol-conformance/netpol-conformance/localcluster/cri"
	"github.com/netpol-conformance/netpol-conformance/localcluster/debpkg"
	"github.com/netpol-conformance/netpol-conformance/localcluster/enforcer"
	"github.com/netpol-conformance/netpol-conformance/localcluster/hostchange"
	"github.com/netpol-conformance/netpol-conformance/localcluster/hoststate"
	"github.com/netpol-conformance/netpol-conformance/localcluster/images"
	"github.com/netpol-conformance/netpol-conformance/localcluster/nodens"
	"github.com/netpol-conformance/netpol-conformance/localcluster/pki"
	"github.com/netpol-conformance/netpol-conformance/localcluster/proc"
	"github.com/netpol-conformance/netpol-conformance/localcluster/render"
)

// Up brings the cluster up, or reuses it when it is already up and healthy
// with the same enforcer. On failure it stops and returns an error naming the
// component, with the end of its log; `Down` cleans whatever was started.
func (c *Cluster) Up(ctx context.Context) error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	drv, err := enforcer.Get(c.opts.Enforcer)
	if err != nil {
		return err
	}
	if _, ok := drv.(enforcer.LeakInjector); c.opts.LeakInjection && !ok {
		return fmt.Errorf("--leak-injection: enforcer %s cannot have a leak injected (%s)", drv.Name(), leakInjectors())
	}
	if err := c.checkNodes(); err != nil {
		return err
	}
	if reused, err := c.checkPrevious(ctx, drv); err != nil || reused {
		return err
	}

	t0 := time.Now()
	if err := debpkg.EnsureFor(debpkg.Cluster, c.opts.Out); err != nil {
		return fmt.Errorf("installing Debian packages: %w", err)
	}

	// Builds first: they are the slow, failure-prone part and touch nothing
	// on the host.
	env := c.enforcerEnv()
	bins, err := c.build(ctx, drv, &env)
	if err != nil {
		return err
	}

	dev, hostIP, err := uplink()
	if err != nil {
		return err
	}
	// One node is the host; more are namespaces on a fabric, where the
	// API server listens on the host's fabric address.
	nodes, apiIP := []node{c.hostNode(hostIP)}, hostIP
	if c.opts.Nodes > 1 {
		nodes, apiIP = c.nodes(c.opts.Nodes), FabricHostIP
	}
	p := c.params(dev, apiIP)
	env.NodeIP, env.IPAMDataDir = apiIP, p.IPAMDataDir
	if err := c.linkCNIPlugins(drv, env, &p); err != nil {
		return err
	}
	var conflist []byte
	if nodes[0].ns == nil {
		// Namespace nodes get theirs once they have a pod CIDR
		// (writeConflist).
		if conflist, err = podConflist(drv, env, p); err != nil {
			return err
		}
	}
	if err := p.Validate(); err != nil {
		return err
	}
	params := map[string]render.Params{}
	for _, n := range nodes {
		params[n.Name] = p
		if n.ns != nil {
			np := c.nodeParams(n, dev)
			np.CNIBinDir = p.CNIBinDir
			// Its pod CIDR is learned once it registers: checked then.
			check := np
			check.NodePodCIDR = ClusterCIDR
			if err := check.Validate(); err != nil {
				return fmt.Errorf("node %s: %w", n.Name, err)
			}
			params[n.Name] = np
		}
	}

	// Another state dir's cluster owns the guard, the routes and the ports:
	// snapshotting now would make our `down` remove what it installed.
	if err := c.recoverAbandoned(ctx); err != nil {
		return err
	}
	if nodes[0].ns != nil {
		// After the recovery: a killed multi-node cluster's fabric is
		// gone with it.
		if err := checkFabricFree(); err != nil {
			return err
		}
	}
	// Record the host before the first change; `down` proves it is back.
	before, err := hoststate.Capture(c.footprint(p).watch)
	if err != nil {
		return fmt.Errorf("snapshotting host state: %w", err)
	}
	if err := before.Save(c.snapshotPath()); err != nil {
		return err
	}
	rec := &record{Enforcer: drv.Name(), Params: p, StartedAt: time.Now(), LeakInjection: c.opts.LeakInjection}
	for _, n := range nodes {
		if n.ns != nil {
			rec.Nodes = append(rec.Nodes, nodeRecord{Name: n.Name, Params: params[n.Name]})
		}
	}
	if err := c.saveRecord(rec); err != nil {
		return err
	}
	if err := c.writeFiles(p); err != nil {
		return err
	}
	if err := hostchange.InstallGuard(p); err != nil {
		return fmt.Errorf("installing safety guard: %w", err)
	}
	c.logf("safety guard installed (nftables table %s, blackhole routes for %s and %s)", render.GuardTable, ClusterCIDR, ServiceCIDR)
	if nodes[0].ns == nil {
		if err := hostchange.EnableForwarding(); err != nil {
			return err
		}
	} else {
		tn := time.Now()
		if err := c.createFabric(ctx); err != nil {
			return err
		}
		for i, n := range nodes {
			if err := c.createNode(ctx, n, i); err != nil {
				return err
			}
		}
		if prep, ok := drv.(enforcer.NodePreparer); ok {
			for _, n := range nodes {
				if err := prep.PrepareNode(ctx, nodeEnv(env, n, params[n.Name])); err != nil {
					return err
				}
			}
		}
		c.logf("fabric %s and %d node namespaces created (%s)", FabricCIDR, len(nodes), time.Since(tn).Round(100*time.Millisecond))
	}

	start := func(spec proc.Spec, ready func(context.Context) error, timeout time.Duration) error {
		rec.Components = append(rec.Components, spec.Name)
		if err := c.saveRecord(rec); err != nil {
			return err
		}
		pr, err := c.sup.Start(spec)
		if err != nil {
			return err
		}
		if err := c.waitReady(ctx, pr, timeout, ready); err != nil {
			return &proc.ComponentError{Component: spec.Name, LogPath: c.sup.LogPath(spec.Name), Err: err}
		}
		c.logf("%-32s ready (pid %d)", spec.Name, pr.Pid)
		return nil
	}
	admin, err := c.adminHTTPClient()
	if err != nil {
		return err
	}
	apiURL := apiServerURL(apiIP)
	for _, step := range []struct {
		spec    proc.Spec
		ready   func(context.Context) error
		timeout time.Duration
	}{
		{c.etcdSpec(), httpReady(http.DefaultClient, "http://127.0.0.1:2379/health"), 30 * time.Second},
		{c.apiserverSpec(p), httpReady(admin, apiURL+"/readyz"), 90 * time.Second},
		{c.controllerManagerSpec(), httpReady(insecureLocal(), "https://127.0.0.1:10257/healthz"), 60 * time.Second},
		{c.schedulerSpec(), httpReady(insecureLocal(), "https://127.0.0.1:10259/healthz"), 60 * time.Second},
	} {
		if err := start(step.spec, step.ready, step.timeout); err != nil {
			return err
		}
	}
	for _, n := range nodes {
		np := params[n.Name]
		if err := c.writeNodeFiles(n, np, conflist); err != nil {
			return err
		}
		if err := start(c.containerdSpec(n), func(ctx context.Context) error { _, err := cri.Version(ctx, np.ContainerdSocket); return err }, 30*time.Second); err != nil {
			return err
		}
		if err := c.importImages(np, bins); err != nil {
			return &proc.ComponentError{Component: "image import", LogPath: c.sup.LogPath(n.component("containerd")), Err: err}
		}
	}
	if err := c.bootstrapRBAC(ctx); err != nil {
		return fmt.Errorf("creating RBAC for the enforcer: %w", err)
	}
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	if err := c.forgetStaleNodes(ctx, names); err != nil {
		return err
	}
	crds, err := enforcer.InstallClusterWideCRDs(ctx, env, drv)
	if err != nil {
		return fmt.Errorf("installing the cluster-wide policy CRDs of enforcer %s: %w", drv.Name(), err)
	}
	if len(crds) > 0 {
		c.logf("cluster-wide policy CRDs of enforcer %s: %s", drv.Name(), strings.Join(crds, ", "))
	}
	if bs, ok := drv.(enforcer.Bootstrapper); ok {
		tb := time.Now()
		if err := bs.Bootstrap(ctx, env); err != nil {
			return fmt.Errorf("creating the API objects of enforcer %s: %w", drv.Name(), err)
		}
		c.logf("API objects of enforcer %s created (%s)", drv.Name(), time.Since(tb).Round(100*time.Millisecond))
	}
	tNode := time.Now()
	podCIDRs := map[string]string{}
	for _, n := range nodes {
		local := &http.Client{Transport: &http.Transport{DialContext: n.dial}}
		if err := start(c.kubeletSpec(n, params[n.Name]), httpReady(local, "http://127.0.0.1:10248/healthz"), 60*time.Second); err != nil {
			return err
		}
		if n.ns != nil {
			// A namespace node's pod network is written once the
			// controller manager has given the node its pod CIDR:
			// containerd reloads its CNI config, and the node turns
			// Ready.
			cidr, err := c.waitPodCIDR(ctx, n.Name, 60*time.Second)
			if err != nil {
				return &proc.ComponentError{Component: n.component("kubelet") + " (no pod CIDR)", LogPath: c.sup.LogPath("kube-controller-manager"), Err: err}
			}
			np := params[n.Name]
			np.NodePodCIDR, podCIDRs[n.Name] = cidr, cidr
			params[n.Name] = np
			if err := c.writeConflist(drv, nodeEnv(env, n, np), np); err != nil {
				return err
			}
		}
		if err := start(c.kubeProxySpec(n), httpReady(local, "http://127.0.0.1:10256/healthz"), 60*time.Second); err != nil {
			return err
		}
	}
	if nodes[0].ns != nil {
		for i := range rec.Nodes {
			rec.Nodes[i].Params = params[rec.Nodes[i].Name]
		}
		if err := c.saveRecord(rec); err != nil {
			return err
		}
		_, ownRoutes := drv.(enforcer.NodeRouter)
		if err := routeNodes(ctx, nodes, podCIDRs, !ownRoutes); err != nil {
			return err
		}
	}
	for _, n := range nodes {
		if err := c.waitNodeReady(ctx, n.Name, 90*time.Second); err != nil {
			return &proc.ComponentError{Component: n.component("kubelet") + " (node never Ready)", LogPath: c.sup.LogPath(n.component("kubelet")), Err: err}
		}
		c.logf("node %s Ready %s after the first kubelet's start", n.Name, time.Since(tNode).Round(100*time.Millisecond))
	}
	agent := map[string]string{} // each node's first enforcer process, whose log says why a peer is unknown
	for _, n := range nodes {
		nenv := nodeEnv(env, n, params[n.Name])
		if a, ok := drv.(enforcer.NodeAnnotator); ok {
			ann, err := a.NodeAnnotations(nenv)
			if err != nil {
				return err
			}
			if len(ann) > 0 {
				if err := c.annotateNode(ctx, n.Name, ann); err != nil {
					return err
				}
			}
		}
		for _, spec := range drv.Processes(nenv) {
			spec = n.spec(spec)
			if agent[n.Name] == "" {
				agent[n.Name] = spec.Name
			}
			if err := start(spec, func(ctx context.Context) error { return drv.Ready(ctx, nenv) }, 90*time.Second); err != nil {
				return err
			}
		}
	}
	if r, ok := drv.(enforcer.NodeRouter); ok && nodes[0].ns != nil {
		tr := time.Now()
		if n, err := waitPeersKnown(ctx, r, nodes, podCIDRs, 60*time.Second); err != nil {
			return &proc.ComponentError{Component: drv.Name() + " (between nodes)", LogPath: c.sup.LogPath(agent[n.Name]), Err: err}
		}
		c.logf("pods carried between nodes by %s (%s after the enforcer was ready)", r.BetweenNodes(), time.Since(tr).Round(100*time.Millisecond))
	}
	if err := c.runCheckPod(ctx, 90*time.Second); err != nil {
		return &proc.ComponentError{Component: "test pod", LogPath: c.sup.LogPath(nodes[0].component("kubelet")), Err: err}
	}
	if err := c.deployDNS(ctx, 90*time.Second); err != nil {
		return &proc.ComponentError{Component: "cluster DNS", LogPath: c.sup.LogPath(nodes[0].component("kubelet")), Err: err}
	}
	now := time.Now()
	rec.UpAt = &now
	if err := c.saveRecord(rec); err != nil {
		return err
	}
	c.logf("cluster of %d node(s) up with enforcer %s in %s", len(nodes), drv.Name(), time.Since(t0).Round(time.Second))
	c.logf("kubeconfig: %s", c.KubeconfigPath())
	return nil
}

// checkNodes refuses, before anything is built or changed, a node count
// out of range and a state dir or checkout that namespace nodes would not
// see.
func (c *Cluster) checkNodes() error {
	n := c.opts.Nodes
	if n < 0 || n > MaxNodes {
		return fmt.Errorf("--nodes %d: give 1 to %d (more do not fit this machine)", n, MaxNodes)
	}
	if n <= 1 {
		return nil
	}
	for _, d := range []struct{ what, path, fix string }{
		{"the state dir", c.opts.StateDir, "give a --state-dir elsewhere"},
		// The nodes run the binaries built into the checkout.
		{"the checkout", c.opts.RepoRoot, "clone it elsewhere"},
	} {
		if d.path == "" {
			continue
		}
		// A symlink into a private directory is as invisible to the
		// nodes as the directory itself.
		path := d.path
		if real, err := filepath.EvalSymlinks(path); err == nil {
			path = real
		}
		if dir, ok := nodens.PrivateDirOf(path); ok {
			return fmt.Errorf("--nodes %d: %s %s is under %s, which each node has a private copy of: %s", n, d.what, d.path, dir, d.fix)
		}
	}
	if cgroupV2Only(cgroupFS) {
		// Each node's cgroup root is made in every v1 hierarchy; under
		// v2 alone it needs its controllers enabled down the tree, which
		// is not done yet (docs/multi-node.md).
		return fmt.Errorf("--nodes %d: this host has cgroups v2 only, and namespace nodes need the cgroups v1 hierarchies so far (docs/multi-node.md): use --nodes 1", n)
	}
	return nil
}

// Build builds (or reuses) every binary `up` with the enforcer of the
// options needs, and starts nothing: builds can run while another cluster
// is up.
func (c *Cluster) Build(ctx context.Context) error {
	drv, err := enforcer.Get(c.opts.Enforcer)
	if err != nil {
		return err
	}
	env := c.enforcerEnv()
	_, err = c.build(ctx, drv, &env)
	return err
}

// imageBinaries are the binaries of the images every cluster runs.
type imageBinaries struct{ agent, pause, coreDNS string }

// build builds the Kubernetes components, the enforcer and the images'
// binaries, logging to logs/build.log; it sets env.Builder.
func (c *Cluster) build(ctx context.Context, drv enforcer.Driver, env *enforcer.Env) (bins imageBinaries, err error) {
	b, buildLog, err := c.loggingBuilder()
	if err != nil {
		return bins, err
	}
	defer buildLog.Close()
	buildLogPath := c.path("logs", "build.log")
	env.Builder = b
	tb := time.Now()
	built, err := b.Kubernetes(ctx)
	if err != nil {
		return bins, &proc.ComponentError{Component: "build of Kubernetes", LogPath: buildLogPath, Err: err}
	}
	c.logf("kubernetes binaries: %s (%s)", map[bool]string{true: "built", false: "reused"}[built], time.Since(tb).Round(time.Second))
	tb = time.Now()
	if err := drv.Build(ctx, *env); err != nil {
		return bins, &proc.ComponentError{Component: "build of enforcer " + drv.Name(), LogPath: buildLogPath, Err: err}
	}
	c.logf("enforcer %s binaries ready (%s)", drv.Name(), time.Since(tb).Round(time.Second))
	tb = time.Now()
	if bins.agent, err = b.Static(ctx, "./cmd/netpol-agent", "netpol-agent-static"); err != nil {
		return bins, &proc.ComponentError{Component: "build of the agent", LogPath: buildLogPath, Err: err}
	}
	if bins.pause, err = b.Static(ctx, "./cmd/netpol-pause", "netpol-pause"); err != nil {
		return bins, &proc.ComponentError{Component: "build of pause", LogPath: buildLogPath, Err: err}
	}
	if bins.coreDNS, err = buildCoreDNS(ctx, b); err != nil {
		return bins, &proc.ComponentError{Component: "build of CoreDNS", LogPath: buildLogPath, Err: err}
	}
	c.logf("images' binaries ready (%s)", time.Since(tb).Round(time.Second))
	return bins, nil
}

// enforcerEnv is what the enforcer's driver knows of the cluster but for
// the builder, the node's address and the IPAM dir, which `up` adds.
func (c *Cluster) enforcerEnv() enforcer.Env {
	return enforcer.Env{
		Kubeconfig: c.path("enforcer.kubeconfig"), AdminKubeconfig: c.KubeconfigPath(), EnforcerUser: enforcerUser,
		NodeName: NodeName, ClusterCIDR: ClusterCIDR, ServiceCIDR: ServiceCIDR,
		StateDir: c.opts.StateDir, LeakInjection: c.opts.LeakInjection, Nodes: max(c.opts.Nodes, 1),
	}
}

// checkPrevious decides what to do when a cluster may already exist: reuse
// it when it is fully up with the same enforcer, tear it down when nothing
// of it is alive, refuse otherwise.
func (c *Cluster) checkPrevious(ctx context.Context, drv enforcer.Driver) (bool, error) {
	var running, stopped []string
	for _, name := range c.sup.Recorded() {
		if _, ok := c.sup.Running(name); ok {
			running = append(running, name)
		} else {
			stopped = append(stopped, name)
		}
	}
	rec, recErr := c.loadRecord()
	if len(running) == 0 {
		if _, err := os.Stat(c.snapshotPath()); err == nil {
			// A killed run (a CI job's timeout, OOM, a lost session): its
			// host changes remain but nothing of it is alive to disturb,
			// unless another state dir's cluster came up since: then this
			// snapshot's teardown would remove that cluster's pods, rules
			// and guard.
			if owner, installed := hostchange.GuardOwner(); installed && owner != c.opts.StateDir {
				if owner == "" {
					owner = "a state dir it does not name"
				}
				return false, fmt.Errorf("a previous `local up` in %s was killed before `local down`, and another local cluster now holds this host (its guard is from %s): tear that one down first with `local down --state-dir DIR`", c.opts.StateDir, owner)
			}
			c.logf("a previous `local up` in %s was killed before `local down` (no process of it is alive): tearing it down first", c.opts.StateDir)
			if err := c.down(ctx); err != nil {
				return false, fmt.Errorf("tearing down the killed cluster in %s: %w", c.opts.StateDir, err)
			}
		}
		return false, nil
	}
	if recErr != nil || len(stopped) > 0 || len(running) != len(rec.Components) {
		return false, fmt.Errorf("a previous cluster in %s is partly running (running: %v, exited: %v): run `local down` first", c.opts.StateDir, running, stopped)
	}
	if rec.UpAt == nil {
		return false, fmt.Errorf("a previous `local up` in %s stopped before the cluster was up (or was run by a netpol-conformance older than this one), its components still running: run `local down` first", c.opts.StateDir)
	}
	if rec.Enforcer != drv.Name() || rec.LeakInjection != c.opts.LeakInjection {
		return false, fmt.Errorf("a cluster with enforcer %s (leak injection %t) is already up in %s: run `local down` before `up --enforcer %s` (leak injection %t)", rec.Enforcer, rec.LeakInjection, c.opts.StateDir, drv.Name(), c.opts.LeakInjection)
	}
	if want := max(c.opts.Nodes, 1); want != max(len(rec.Nodes), 1) {
		return false, fmt.Errorf("a cluster of %d node(s) is already up in %s: run `local down` before `up --nodes %d`", max(len(rec.Nodes), 1), c.opts.StateDir, want)
	}
	for _, name := range rec.nodeNames() {
		if err := c.waitNodeReady(ctx, name, 10*time.Second); err != nil {
			return false, fmt.Errorf("a cluster is running in %s but its node is not Ready (%v): run `local down` first", c.opts.StateDir, err)
		}
	}
	if r, ok := drv.(enforcer.NodeRouter); ok && len(rec.Nodes) > 1 {
		// Plain routes stay; a BGP session or a tunnel endpoint may not.
		podCIDRs := map[string]string{}
		for _, n := range rec.Nodes {
			podCIDRs[n.Name] = n.Params.NodePodCIDR
		}
		if _, err := waitPeersKnown(ctx, r, c.nodes(len(rec.Nodes)), podCIDRs, 10*time.Second); err != nil {
			return false, fmt.Errorf("a cluster is running in %s but its pods are not carried between nodes (%v): run `local down` first", c.opts.StateDir, err)
		}
	}
	c.logf("cluster already up with enforcer %s; reusing it", rec.Enforcer)
	c.logf("kubeconfig: %s", c.KubeconfigPath())
	return true, nil
}

// recoverAbandoned makes sure no other state dir's cluster holds the host.
// A guard left by a cluster none of whose processes is alive is a killed
// run's: that cluster is torn down from its own state dir (its snapshot is
// the reference) so one killed nightly job does not fail every later one. A
// cluster with any live process is never touched.
func (c *Cluster) recoverAbandoned(ctx context.Context) error {
	owner, installed := hostchange.GuardOwner()
	if !installed {
		return nil
	}
	busy := fmt.Sprintf("another local cluster holds this host (nftables table inet %s exists)", render.GuardTable)
	if owner == "" {
		return fmt.Errorf("%s and does not name its state dir: run `netpol-conformance local down --state-dir DIR` with the state dir that brought it up", busy)
	}
	if _, err := os.Stat(filepath.Join(owner, filepath.Base(c.snapshotPath()))); err != nil {
		return fmt.Errorf("%s, installed from state dir %s, which has no host snapshot any more (%v): nothing can prove the host restored, so remove it by hand: `nft delete table inet %s; ip route del blackhole %s; ip route del blackhole %s`",
			busy, owner, err, render.GuardTable, ClusterCIDR, ServiceCIDR)
	}
	other, err := New(Options{RepoRoot: c.opts.RepoRoot, StateDir: owner, Out: c.opts.Out})
	if err != nil {
		return err
	}
	if live := other.LiveComponents(); len(live) > 0 {
		return fmt.Errorf("%s: the cluster in %s is running (%s): wait for it, or run `netpol-conformance local down --state-dir %s`", busy, owner, strings.Join(live, ", "), owner)
	}
	c.logf("the local cluster in %s was killed before `local down` (no process of it is alive): tearing it down first", owner)
	unlock, err := other.lock()
	if err != nil {
		return fmt.Errorf("%s: %w", busy, err)
	}
	defer unlock()
	if err := other.down(ctx); err != nil {
		return fmt.Errorf("tearing down the killed cluster in %s: %w", owner, err)
	}
	return nil
}

// LiveComponents lists the cluster's recorded processes that are alive:
// none for a cluster that is down or was killed outright.
func (c *Cluster) LiveComponents() []string {
	var live []string
	for _, name := range c.sup.Recorded() {
		if _, ok := c.sup.Running(name); ok {
			live = append(live, name)
		}
	}
	return live
}

// waitReady polls ready until it succeeds, the process exits or timeout.
func (c *Cluster) waitReady(ctx context.Context, p *proc.Process, timeout time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		select {
		case <-p.Exited:
			return fmt.Errorf("process exited: %w", p.ExitErr())
		default:
		}
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		last = ready(rctx)
		rcancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.Exited:
			return fmt.Errorf("process exited: %w", p.ExitErr())
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", timeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func httpReady(client *http.Client, url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s: %s", url, resp.Status, body)
		}
		return nil
	}
}

// insecureLocal probes the health endpoints of controller-manager and
// scheduler on 127.0.0.1, served with certificates they generate in memory.
func insecureLocal() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // loopback health probe only
}

func (c *Cluster) adminHTTPClient() (*http.Client, error) {
	cert, err := tls.LoadX509KeyPair(c.path("pki", "admin.crt"), c.path("pki", "admin.key"))
	if err != nil {
		return nil, fmt.Errorf("loading admin certificate: %w", err)
	}
	caPEM, err := os.ReadFile(c.path("pki", "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("reading CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}}}, nil
}

// podConflist is the CNI conflist of a node: the bridge's, or the
// driver's own when it is a PodNetwork.
func podConflist(drv enforcer.Driver, env enforcer.Env, p render.Params) ([]byte, error) {
	if pn, ok := drv.(enforcer.PodNetwork); ok {
		return pn.CNIConflist(env)
	}
	return render.CNI(p)
}

// linkCNIPlugins links, for a driver that is a PodNetwork, its plugins
// with Debian's into a CNI bin dir in the state dir (containerd 1.6 takes
// a single bin_dir, and nothing is installed into /usr/lib/cni), which
// p.CNIBinDir names from then on. Every other driver uses Debian's dir.
func (c *Cluster) linkCNIPlugins(drv enforcer.Driver, env enforcer.Env, p *render.Params) error {
	pn, ok := drv.(enforcer.PodNetwork)
	if !ok {
		return nil
	}
	binDir := c.path("cni", "bin")
	if err := os.RemoveAll(binDir); err != nil {
		return fmt.Errorf("clearing %s: %w", binDir, err)
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", binDir, err)
	}
	links := map[string]string{}
	entries, err := os.ReadDir(p.CNIBinDir)
	if err != nil {
		return fmt.Errorf("listing the CNI plugins in %s: %w", p.CNIBinDir, err)
	}
	for _, e := range entries {
		links[e.Name()] = filepath.Join(p.CNIBinDir, e.Name())
	}
	for name, path := range pn.CNIPlugins(env) {
		links[name] = path // the driver's plugin wins over a Debian one of the same name
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(binDir, name)); err != nil {
			return fmt.Errorf("linking CNI plugin %s: %w", name, err)
		}
	}
	p.CNIBinDir = binDir
	return nil
}

// writeFiles generates the control plane's certificates and kubeconfigs,
// and the host node's kubelet and kube-proxy identities.
func (c *Cluster) writeFiles(p render.Params) error {
	pkiDir := c.path("pki")
	ca, err := pki.LoadOrCreateCA(pkiDir)
	if err != nil {
		return fmt.Errorf("certificate authority: %w", err)
	}
	if _, _, err := pki.EnsureServiceAccountKey(pkiDir); err != nil {
		return err
	}
	nodeIP := net.ParseIP(p.NodeIP)
	leaves := []pki.Leaf{
		{Name: "apiserver", CommonName: "kube-apiserver", Server: true,
			DNSNames: []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost"},
			IPs:      []net.IP{nodeIP, net.ParseIP(APIService), net.ParseIP("127.0.0.1")}},
		{Name: "apiserver-kubelet-client", CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}, Client: true},
		{Name: "admin", CommonName: "netpol-local-admin", Organization: []string{"system:masters"}, Client: true},
		{Name: "controller-manager", CommonName: "system:kube-controller-manager", Client: true},
		{Name: "scheduler", CommonName: "system:kube-scheduler", Client: true},
		{Name: "kubelet", CommonName: "system:node:" + NodeName, Organization: []string{"system:nodes"}, Client: true},
		{Name: "kube-proxy", CommonName: "system:kube-proxy", Client: true},
		{Name: "enforcer", CommonName: enforcerUser, Client: true},
	}
	server := apiServerURL(p.NodeIP)
	kubeconfigs := map[string]string{
		"admin": c.KubeconfigPath(), "controller-manager": c.path("controller-manager.kubeconfig"),
		"scheduler": c.path("scheduler.kubeconfig"), "kubelet": p.KubeletKubeconfig,
		"kube-proxy": p.ProxyKubeconfig, "enforcer": c.path("enforcer.kubeconfig"),
	}
	for _, l := range leaves {
		if kc, ok := kubeconfigs[l.Name]; ok {
			if err := c.writeClientKubeconfig(ca, server, l, kc); err != nil {
				return err
			}
		} else if _, _, err := ca.Issue(pkiDir, l); err != nil {
			return err
		}
	}
	return nil
}

// writeNodeFiles writes node n's own certificate, kubeconfig and component
// configs; conflist is its pod network's, nil when it is written later
// (writeConflist).
func (c *Cluster) writeNodeFiles(n node, p render.Params, conflist []byte) error {
	if n.ns != nil {
		// Each namespace node is a kubelet of its own name: the Node
		// authorizer lets it act only on its own Node and pods.
		ca, err := pki.LoadOrCreateCA(c.path("pki"))
		if err != nil {
			return fmt.Errorf("certificate authority: %w", err)
		}
		if err := c.writeClientKubeconfig(ca, apiServerURL(FabricHostIP), pki.Leaf{Name: "kubelet-" + n.Name, CommonName: "system:node:" + n.Name, Organization: []string{"system:nodes"}, Client: true}, p.KubeletKubeconfig); err != nil {
			return err
		}
	}
	files := []struct {
		path   string
		render func(render.Params) ([]byte, error)
	}{
		{n.path("containerd", "config.toml"), render.Containerd},
		{n.path("kubelet-config.yaml"), render.Kubelet},
		{n.path("kube-proxy-config.yaml"), render.KubeProxy},
	}
	for _, f := range files {
		data, err := f.render(p)
		if err != nil {
			return err
		}
		if _, err := render.WriteIfChanged(f.path, data, 0o644); err != nil {
			return err
		}
	}
	if conflist == nil {
		return nil
	}
	_, err := render.WriteIfChanged(conflistPath(p), conflist, 0o644)
	return err
}

// nodeEnv is env as the enforcer's processes on node n see it. The host
// node's address stays the API server's, as env has it.
func nodeEnv(env enforcer.Env, n node, p render.Params) enforcer.Env {
	env.NodeName, env.IPAMDataDir, env.Command, env.Dial = n.Name, p.IPAMDataDir, n.command, n.dial
	env.PodCIDR = p.NodePodCIDR
	if n.ns != nil {
		env.NodeIP = n.IP
	}
	return env
}

// writeConflist writes the pod network of a namespace node, whose pod
// CIDR p has: the bridge's, or the driver's own for a PodNetwork.
func (c *Cluster) writeConflist(drv enforcer.Driver, env enforcer.Env, p render.Params) error {
	data, err := podConflist(drv, env, p)
	if err != nil {
		return err
	}
	_, err = render.WriteIfChanged(conflistPath(p), data, 0o644)
	return err
}

func conflistPath(p render.Params) string {
	return filepath.Join(p.CNIConfDir, "10-netpol-local.conflist")
}

// apiServerURL is the API server's URL at ip.
func apiServerURL(ip string) string {
	return fmt.Sprintf("https://%s", net.JoinHostPort(ip, fmt.Sprint(APIPort)))
}

// writeClientKubeconfig issues l's client certificate and writes a
// kubeconfig for server with it to path.
func (c *Cluster) writeClientKubeconfig(ca *pki.CA, server string, l pki.Leaf, path string) error {
	certPath, keyPath, err := ca.Issue(c.path("pki"), l)
	if err != nil {
		return err
	}
	data, err := render.Kubeconfig(render.KubeconfigParams{Server: server, CAFile: ca.CertPath, CertFile: certPath, KeyFile: keyPath, User: l.CommonName})
	if err != nil {
		return err
	}
	_, err = render.WriteIfChanged(path, data, 0o600)
	return err
}

func (c *Cluster) importImages(p render.Params, bins imageBinaries) error {
	for _, s := range []images.Spec{
		images.Binary(images.Pause, bins.pause, "/pause", "65535:65535"),
		images.Binary(images.Agent, bins.agent, images.AgentBinary, "65532:65532"),
		coreDNSImageSpec(bins.coreDNS),
	} {
		archive := c.path("images", filepath.Base(s.Files[0].Path)+".tar")
		if err := os.MkdirAll(filepath.Dir(archive), 0o755); err != nil {
			return fmt.Errorf("creating image dir: %w", err)
		}
		if err := images.Build(s, archive); err != nil {
			return err
		}
		if err := images.Import(p.ContainerdSocket, archive); err != nil {
			return err
		}
	}
	return nil
}
