package enforcer

import (
	"strings"
	"testing"
)

// The drivers that carry pods between nodes themselves say how to see that
// a node knows its peer; an empty command would never pass.
func TestPeerKnown(t *testing.T) {
	for _, tc := range []struct {
		r    NodeRouter
		want string
	}{
		{KubeRouter{}, "ip -4 route show exact 10.244.1.0/24 via 10.250.0.12"},
		{Cilium{}, "ip -4 route show exact 10.244.1.0/24 dev cilium_host"},
		{Calico{}, "ip -4 neigh show 10.244.1.1 dev vxlan.calico"},
	} {
		if got := strings.Join(tc.r.PeerKnown("10.250.0.12", "10.244.1.0/24"), " "); got != tc.want {
			t.Errorf("%T.PeerKnown = %q, want %q", tc.r, got, tc.want)
		}
	}
	if got := (Calico{}).PeerKnown("10.250.0.12", "not a CIDR"); got != nil {
		t.Errorf("Calico PeerKnown of a bad CIDR = %q, want none", got)
	}
}
