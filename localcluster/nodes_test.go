package localcluster

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netpol-conformance/netpol-conformance/localcluster/enforcer"
)

// checkNodes refuses before anything is built: a count out of range, a
// state dir or checkout the nodes have private copies of.
func TestCheckNodes(t *testing.T) {
	if cgroupV2Only(cgroupFS) {
		t.Skip("this host has cgroups v2 only: --nodes 2 refuses it whatever else (TestCgroupV2Only)")
	}
	for _, tc := range []struct {
		name     string
		nodes    int
		stateDir string
		wantErr  string // "" accepts
	}{
		{"one node", 1, "/srv/state", ""},
		{"two nodes", 2, "/srv/state", ""},
		{"four nodes", MaxNodes, "/srv/state", ""},
		{"too many", MaxNodes + 1, "/srv/state", "give 1 to"},
		{"negative", -1, "/srv/state", "give 1 to"},
		{"state dir under /var/lib", 2, "/var/lib/netpol", "under /var/lib"},
		{"state dir a symlink into /var/log", 2, "LINK", "under /var/log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stateDir := tc.stateDir
			if stateDir == "LINK" {
				stateDir = filepath.Join(t.TempDir(), "state")
				if err := os.Symlink("/var/log", stateDir); err != nil {
					t.Fatal(err)
				}
			}
			c := &Cluster{opts: Options{Nodes: tc.nodes, StateDir: stateDir}}
			err := c.checkNodes()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	c := &Cluster{opts: Options{Nodes: 2, StateDir: "/srv/state", RepoRoot: "/run/user/checkout"}}
	if err := c.checkNodes(); err == nil || !strings.Contains(err.Error(), "the checkout") {
		t.Errorf("a checkout under /run: %v", err)
	}
}

// Each namespace node's enforcer sees its own name, address and IPAM dir;
// the host node's address stays the API server's.
func TestNodeEnv(t *testing.T) {
	c := &Cluster{opts: Options{StateDir: "/srv/state"}}
	env := enforcer.Env{NodeName: NodeName, NodeIP: "192.0.2.2"}
	host := c.hostNode("192.0.2.2")
	got := nodeEnv(env, host, c.nodeParams(host, "eth0"))
	if got.NodeName != NodeName || got.NodeIP != "192.0.2.2" {
		t.Errorf("host node: %s at %s", got.NodeName, got.NodeIP)
	}
	n := c.namespaceNode("netpol-local-2", "10.250.0.12")
	np := c.nodeParams(n, "eth0")
	got = nodeEnv(env, n, np)
	if got.NodeName != "netpol-local-2" || got.NodeIP != "10.250.0.12" || got.IPAMDataDir != np.IPAMDataDir || got.Command == nil || got.Dial == nil {
		t.Errorf("namespace node: %+v", got)
	}
	if !strings.HasPrefix(got.IPAMDataDir, "/srv/state/nodes/netpol-local-2/") {
		t.Errorf("IPAM dir %s is not the node's", got.IPAMDataDir)
	}
}

// The processes `down` stops only after the pods are gone are the
// driver's, on every recorded node; none for a bridge enforcer.
func TestPodNetworkProcesses(t *testing.T) {
	c := &Cluster{opts: Options{StateDir: "/srv/state", RepoRoot: "/srv/repo"}}
	two := []nodeRecord{{Name: "netpol-local-1"}, {Name: "netpol-local-2"}}
	for _, tc := range []struct {
		name string
		rec  *record
		want []string
	}{
		{"calico on one node", &record{Enforcer: "calico"}, []string{"calico-felix"}},
		{"calico on two nodes", &record{Enforcer: "calico", Nodes: two}, []string{"calico-felix@netpol-local-1", "calico-felix@netpol-local-2"}},
		{"a bridge enforcer", &record{Enforcer: "kube-router", Nodes: two}, nil},
		{"no record", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := c.podNetworkProcesses(tc.rec)
			var names []string
			for n := range got {
				names = append(names, n)
			}
			slices.Sort(names)
			if !slices.Equal(names, tc.want) {
				t.Errorf("late processes %v, want %v", names, tc.want)
			}
		})
	}
}

// A host whose cgroup tree is the unified hierarchy alone is told so; a
// v1 or hybrid one (this machine's) is not.
func TestCgroupV2Only(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		want  bool
	}{
		{"v2 only", []string{"cgroup.controllers", "cgroup.procs", "system.slice/cgroup.procs"}, true},
		{"v1 with unified", []string{"cpu/cgroup.procs", "memory/cgroup.procs", "unified/cgroup.controllers"}, false},
		{"v1", []string{"cpu/cgroup.procs"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range tc.files {
				p := filepath.Join(root, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := cgroupV2Only(root); got != tc.want {
				t.Errorf("cgroupV2Only = %v, want %v", got, tc.want)
			}
		})
	}
}
