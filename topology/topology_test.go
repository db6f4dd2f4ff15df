package topology

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestStandardIsValid(t *testing.T) {
	topo := Standard()
	if errs := topo.Validate(); len(errs) > 0 {
		t.Fatalf("standard topology is invalid: %v", errs)
	}
	if got := len(topo.MatrixKeys()); got != 9 {
		t.Errorf("standard matrix has %d endpoints, want 9", got)
	}
	if got := topo.Namespace("y").NamespaceLabels()[NamespaceNameLabel]; got != "y" {
		t.Errorf("namespace y has %s=%q, want the control plane's name label", NamespaceNameLabel, got)
	}
}

func TestDeepCopyIsIndependent(t *testing.T) {
	a := Standard()
	b := a.DeepCopy()
	b.Pod("x/a").Labels["pod"] = "changed"
	b.Namespace("x").Labels["ns"] = "changed"
	if a.Pod("x/a").Labels["pod"] != "a" || a.Namespace("x").Labels["ns"] != "x" {
		t.Error("changing the copy changed the original")
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"valid", `
namespaces:
- name: shop
  labels: {team: web}
  pods:
  - {name: api, ip: 10.1.0.4, labels: {app: api}, ports: [{name: http, containerPort: 8080}]}
externals: [{name: bank, ip: 203.0.113.9}]
`, nil},
		{"invalid", `
namespaces:
- name: Shop
  pods:
  - {name: api, ip: 10.1.0.300, ports: [{name: Bad_Name, containerPort: 0, protocol: ICMP}]}
  - {name: api, ip: 10.1.0.5}
externals: [{name: a/b, ip: nope}]
matrix: [shop/ghost]
`, []string{"namespaces[0].name", "pods[0].ip", "ports[0].containerPort", "ports[0].name", "ports[0].protocol", "pods[1].name: Duplicate", "externals[0].name", "externals[0].ip", "matrix[0]"}},
		{"unknown field", "namespaces: [{name: a, pod: []}]", []string{`namespaces[0].pod: unknown field`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "topology.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Load accepted an invalid topology")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestRows checks the rows of a pass: the matrix, then the nodes probed
// from a prober of their own, but not through Services.
func TestRows(t *testing.T) {
	topo := Standard()
	topo.Externals = append(topo.Externals,
		External{Name: "node-1", IP: "10.30.0.1", Node: true, NodeName: "n1", Prober: "nodes/node-1"},
		External{Name: "far", IP: "203.0.113.1"})
	rows := topo.Rows(false)
	if len(rows) != len(topo.Matrix)+1 || rows[len(rows)-1] != "node-1" {
		t.Errorf("Rows(false) = %v, want the matrix then node-1", rows)
	}
	if got := topo.Rows(true); !slices.Equal(got, topo.MatrixKeys()) {
		t.Errorf("Rows(true) = %v, want the matrix alone", got)
	}
}
