package enforcer

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/netpol-conformance/netpol-conformance/localcluster/gobuild"
	"github.com/netpol-conformance/netpol-conformance/localcluster/proc"
)

const (
	kubeRouterModule  = "github.com/cloudnativelabs/kube-router/v2"
	kubeRouterVersion = "v2.1.0"
	// KubeRouterHealthPort is kube-router's /healthz port (its default).
	KubeRouterHealthPort = 20244
	// kubeRouterBGPPort and kubeRouterGoBGPPort are where its routing
	// controller's embedded GoBGP speaks BGP (on the node's address) and
	// serves its gRPC API (on the node's address and loopback); both are
	// fixed or default in v2.1.0.
	kubeRouterBGPPort   = 179
	kubeRouterGoBGPPort = 50051
)

// KubeRouter runs kube-router as a host process: its network policy
// controller, and on the namespace nodes of a multi-node cluster also its
// routing controller, which advertises each node's pod CIDR to the others
// by iBGP (a full mesh, as kube-router does by default) and installs the
// routes it learns, with no overlay (every node is on one subnet, and IPIP
// is not in this kernel). No service proxy (kube-proxy does that), no CNI
// (the bridge plugin does that). On the host node of a one-node cluster
// the routing controller stays off: there is nothing to route to, and it
// would change the host's sysctls and links. It denies with REJECT, so
// blocked connections are refused, not timed out. It works unmodified on
// this machine.
type KubeRouter struct{}

func init() { register(KubeRouter{}) }

// It carries pods between namespace nodes itself.
var _ NodeRouter = KubeRouter{}

func (KubeRouter) Name() string   { return "kube-router" }
func (KubeRouter) Enforces() bool { return true }

func (KubeRouter) binary(env Env) string { return filepath.Join(env.Builder.BinDir, "kube-router") }

// Build builds kube-router from its own module (its go.mod has Kubernetes
// versions of its own; it must not enter ours).
func (KubeRouter) Build(ctx context.Context, env Env) error {
	_, err := env.Builder.Module(ctx, gobuild.ModuleBuild{
		Module:  kubeRouterModule,
		Version: kubeRouterVersion,
		Package: "./cmd/kube-router",
		Name:    "kube-router",
		LDFlags: "-X " + kubeRouterModule + "/pkg/version.Version=" + kubeRouterVersion,
	})
	if err != nil {
		return fmt.Errorf("building kube-router: %w", err)
	}
	return nil
}

func (k KubeRouter) Processes(env Env) []proc.Spec {
	router := env.onFabric()
	spec := proc.Spec{
		Name: "kube-router",
		Path: k.binary(env),
		Args: []string{
			"--kubeconfig=" + env.Kubeconfig,
			"--hostname-override=" + env.NodeName,
			"--run-firewall=true",
			fmt.Sprintf("--run-router=%t", router),
			"--run-service-proxy=false",
			"--enable-cni=false",
			"--enable-pod-egress=false",
			"--service-cluster-ip-range=" + env.ServiceCIDR,
			fmt.Sprintf("--health-port=%d", KubeRouterHealthPort),
			"--metrics-port=0",
			"--v=1",
		},
		Ports: []string{fmt.Sprintf("0.0.0.0:%d", KubeRouterHealthPort)},
	}
	if router {
		spec.Args = append(spec.Args,
			"--enable-overlay=false",
			"--advertise-pod-cidr=true",
			"--nodes-full-mesh=true",
			// Routes are learnt again within a second of a restart;
			// graceful restart would keep a dead node's routes.
			"--bgp-graceful-restart=false",
		)
		spec.Ports = append(spec.Ports,
			net.JoinHostPort(env.NodeIP, fmt.Sprint(kubeRouterBGPPort)),
			net.JoinHostPort(env.NodeIP, fmt.Sprint(kubeRouterGoBGPPort)),
			net.JoinHostPort("127.0.0.1", fmt.Sprint(kubeRouterGoBGPPort)),
		)
	}
	return []proc.Spec{spec}
}

// BetweenNodes: the routing controller's iBGP routes (Processes).
func (KubeRouter) BetweenNodes() string { return "kube-router's iBGP routes" }

// kubeRouterRouteProto marks the routes kube-router installs (its
// zebra protocol number, 0x11).
const kubeRouterRouteProto = "17"

// PeerKnown: the route it learnt by BGP for the peer's pod CIDR.
func (KubeRouter) PeerKnown(peerIP, peerCIDR string) []string {
	return []string{"ip", "-4", "route", "show", "exact", peerCIDR, "via", peerIP, "proto", kubeRouterRouteProto}
}

// Ready waits for kube-router's health endpoint, which turns 200 once the
// policy controller has completed a full sync.
func (KubeRouter) Ready(ctx context.Context, env Env) error {
	return waitHealthy(ctx, env, "kube-router", fmt.Sprintf("http://127.0.0.1:%d/healthz", KubeRouterHealthPort), 500*time.Millisecond)
}

// Cleanup has nothing of its own to do: kube-router's KUBE-ROUTER-*,
// KUBE-NWPLCY-* and KUBE-POD-FW-* chains and its ipsets are new since the
// snapshot and removed by the harness. Its --cleanup-config is deliberately
// not used: it also flushes every IPVS service of the host
// (docs/local-cluster.md, "Safety").
func (KubeRouter) Cleanup(context.Context, Env) error { return nil }

// Footprint: kube-router keeps its state in /var/lib/kube-router whatever
// it is told, and its routing controller appends its policy routing table
// ("77 kube-router") to /etc/iproute2/rt_tables even with the overlay off.
// It runs only on namespace nodes, which have a private copy of
// /etc/iproute2 (nodens), so the host's file must stay as it was.
func (KubeRouter) Footprint() Footprint {
	return Footprint{Paths: []string{"/var/lib/kube-router"}, Files: []string{"/etc/iproute2/rt_tables"}}
}
