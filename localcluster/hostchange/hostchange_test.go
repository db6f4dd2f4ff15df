package hostchange

import (
	"testing"
)

func TestUndoScript(t *testing.T) {
	// As hoststate records it: table-qualified and sorted. A chain of the
	// same name in two tables (CNI-FORWARD, which podman's CNI network
	// leaves in filter, and one in nat) must not be confused: an earlier
	// format lost the table on sorting and deleted the host's own chains.
	before := []string{
		"*filter -A CNI-FORWARD -m comment --comment \"CNI firewall plugin admin overrides\" -j CNI-ADMIN",
		"*filter -A FORWARD -j DOCKER-USER",
		"*filter :CNI-ADMIN - [-]", "*filter :CNI-FORWARD - [-]",
		"*filter :DOCKER-USER - [-]", "*filter :FORWARD ACCEPT [-]", "*filter :INPUT ACCEPT [-]", "*filter :OUTPUT ACCEPT [-]",
		"*nat :POSTROUTING ACCEPT [-]",
	}
	tests := []struct {
		name string
		now  string
		want string
	}{
		{"nothing new", "*filter\n:INPUT ACCEPT [5:6]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:DOCKER-USER - [0:0]\n-A FORWARD -j DOCKER-USER\nCOMMIT\n", ""},
		{"kube-router chains and jumps", `# Generated
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER-USER - [0:0]
:KUBE-ROUTER-FORWARD - [0:0]
:KUBE-POD-FW-ABC - [0:0]
-A FORWARD -m comment --comment "kube-router netpol - X" -j KUBE-ROUTER-FORWARD
-A FORWARD -j DOCKER-USER
-A KUBE-ROUTER-FORWARD -j KUBE-POD-FW-ABC
-A KUBE-POD-FW-ABC -j REJECT
COMMIT
`, `*filter
-D FORWARD -m comment --comment "kube-router netpol - X" -j KUBE-ROUTER-FORWARD
-F KUBE-ROUTER-FORWARD
-F KUBE-POD-FW-ABC
-X KUBE-ROUTER-FORWARD
-X KUBE-POD-FW-ABC
COMMIT
`},
		{"the host's own chains in filter, a same-named one new in nat", `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:CNI-ADMIN - [0:0]
:CNI-FORWARD - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN
COMMIT
*nat
:POSTROUTING ACCEPT [0:0]
:CNI-FORWARD - [0:0]
-A POSTROUTING -j CNI-FORWARD
COMMIT
`, "*nat\n-D POSTROUTING -j CNI-FORWARD\n-F CNI-FORWARD\n-X CNI-FORWARD\nCOMMIT\n"},
		{"table that did not exist", "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\nCOMMIT\n",
			"*nat\n-F PREROUTING\n-F KUBE-SERVICES\n-X KUBE-SERVICES\nCOMMIT\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UndoScript(before, tt.now); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestClusterLink(t *testing.T) {
	for _, tt := range []struct {
		link     string
		prefixes []string
		want     bool
	}{
		{"netpol0", nil, true},
		{"veth1234", nil, true},
		{"cali0123456789a", nil, false},
		{"cali0123456789a", []string{"cali"}, true},
		{"eth0", []string{"cali"}, false},
		{"eth0", []string{""}, false}, // an empty prefix names nothing
		{"docker0", []string{"cali"}, false},
	} {
		if got := clusterLink(tt.link, "netpol0", tt.prefixes); got != tt.want {
			t.Errorf("clusterLink(%q, %q) = %v, want %v", tt.link, tt.prefixes, got, tt.want)
		}
	}
}

func TestParseGuardOwner(t *testing.T) {
	tests := []struct {
		name, listing, want string
	}{
		{"named", "table inet netpol_local_guard {\n\tcomment \"state dir /tmp/x y/_output/local\"\n\tchain forward {\n", "/tmp/x y/_output/local"},
		{"older guard without a comment", "table inet netpol_local_guard {\n\tchain forward {\n\t\tcomment \"state dir /nope\"\n", ""},
		{"someone else's comment", "table inet netpol_local_guard {\n\tcomment \"hand-made\"\n}\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseGuardOwner(tt.listing); got != tt.want {
				t.Errorf("parseGuardOwner = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTableBlockAndEmptyChain(t *testing.T) {
	for _, tt := range []struct {
		block, table, chain string
		ok                  bool
	}{
		{"table ip filter", "ip filter", "", true},
		{"table ip filter chain INPUT", "ip filter", "INPUT", true},
		{"table ip filter chain INPUT: type filter hook input priority filter; policy accept;", "", "", false},
		{"table inet guard set ports", "", "", false},
	} {
		table, chain, ok := tableBlock(tt.block)
		if table != tt.table || chain != tt.chain || ok != tt.ok {
			t.Errorf("tableBlock(%q) = %q, %q, %v; want %q, %q, %v", tt.block, table, chain, ok, tt.table, tt.chain, tt.ok)
		}
	}
	ruleset := set([]string{
		"table ip filter chain INPUT",
		"table ip filter chain INPUT: type filter hook input priority filter; policy accept;",
		"table ip filter chain FORWARD",
		"table ip filter chain FORWARD: type filter hook forward priority filter; policy accept;",
		"table ip filter chain FORWARD: counter jump CNI-FORWARD",
	})
	if !emptyChain(ruleset, "table ip filter chain INPUT") {
		t.Error("INPUT holds only its hook: empty")
	}
	if emptyChain(ruleset, "table ip filter chain FORWARD") {
		t.Error("FORWARD holds a rule: not empty")
	}
}
