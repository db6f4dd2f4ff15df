package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/netpol-conformance/netpol-conformance/cases"
	"github.com/netpol-conformance/netpol-conformance/reachability"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

// scenarioFlags are the inputs the offline commands share: which cases or
// policy files, on which topology.
type scenarioFlags struct {
	caseDirs     []string
	policyFiles  []string
	namespace    string
	topologyFile string
}

func (f *scenarioFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&f.caseDirs, "cases", nil, "load case files from these YAML files or directories instead of the built-in table")
	cmd.Flags().StringSliceVarP(&f.policyFiles, "filename", "f", nil, "evaluate the NetworkPolicy manifests in these files instead of a case")
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "", "namespace for policies in -f files that set none")
	cmd.Flags().StringVar(&f.topologyFile, "topology", "", "topology file (namespaces, pods, IPs, ports, externals); default: the standard x/y/z topology")
}

func (f *scenarioFlags) topology() (*topology.Topology, error) {
	if f.topologyFile == "" {
		return topology.Standard(), nil
	}
	return topology.Load(f.topologyFile)
}

func (f *scenarioFlags) caseSet(topo *topology.Topology) (*cases.Set, error) {
	if len(f.caseDirs) > 0 {
		return cases.LoadPaths(f.caseDirs, topo)
	}
	if f.topologyFile != "" {
		// The built-in table is written for the standard topology; on
		// another one it is validated against that topology.
		return cases.LoadFS(cases.BuiltinFS(), ".", topo)
	}
	return cases.Builtin()
}

// selectCases resolves the case names (or policy files) to run.
func (f *scenarioFlags) selectCases(names []string, topo *topology.Topology) ([]*cases.Case, error) {
	if len(f.policyFiles) > 0 {
		if len(names) > 0 {
			return nil, fmt.Errorf("give case names or -f policy files, not both")
		}
		ns := f.namespace
		if ns == "" {
			ns = "default"
		}
		c, err := cases.FromPolicyFiles(f.policyFiles, ns, topo)
		if err != nil {
			return nil, err
		}
		return []*cases.Case{c}, nil
	}
	set, err := f.caseSet(topo)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("name at least one case (see `netpol-conformance list`) or pass -f policies.yaml")
	}
	var out []*cases.Case
	for _, name := range names {
		c := set.Case(name)
		if c == nil {
			return nil, fmt.Errorf("no case named %q (see `netpol-conformance list`)", name)
		}
		out = append(out, c)
	}
	return out, nil
}

// tableKeys returns the port/protocol pairs to compute: the given ones, or
// every port the topology's matrix pods serve.
func tableKeys(topo *topology.Topology, ports []int32, protocols []string) ([]reachability.Key, error) {
	var protos []corev1.Protocol
	for _, p := range protocols {
		proto := corev1.Protocol(strings.ToUpper(p))
		if !slices.Contains(topology.StandardProtocols, proto) {
			return nil, fmt.Errorf("--protocol %q: want TCP, UDP or SCTP", p)
		}
		protos = append(protos, proto)
	}
	if len(ports) > 0 {
		if len(protos) == 0 {
			protos = topology.StandardProtocols
		}
		var keys []reachability.Key
		for _, proto := range protos {
			for _, port := range ports {
				keys = append(keys, reachability.Key{Port: port, Protocol: proto})
			}
		}
		return keys, nil
	}
	var keys []reachability.Key
	for _, key := range topo.MatrixKeys() {
		pod := topo.Pod(key)
		if pod == nil {
			continue
		}
		for _, cp := range pod.Ports {
			proto := cp.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			k := reachability.Key{Port: cp.ContainerPort, Protocol: proto}
			if (len(protos) == 0 || slices.Contains(protos, proto)) && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("the topology's pods declare no container ports: pass --port")
	}
	return keys, nil
}

// parseTarget reads "80/TCP" (protocol optional, default TCP).
func parseTarget(s string) (reachability.Key, error) {
	portStr, proto, found := strings.Cut(s, "/")
	if !found {
		proto = string(corev1.ProtocolTCP)
	}
	port, err := strconv.ParseInt(portStr, 10, 32)
	if err != nil || port < 1 || port > 65535 {
		return reachability.Key{}, fmt.Errorf("port %q: want PORT or PORT/PROTOCOL, e.g. 80/TCP", s)
	}
	p := corev1.Protocol(strings.ToUpper(proto))
	if !slices.Contains(topology.StandardProtocols, p) {
		return reachability.Key{}, fmt.Errorf("protocol %q: want TCP, UDP or SCTP", proto)
	}
	return reachability.Key{Port: int32(port), Protocol: p}, nil
}
