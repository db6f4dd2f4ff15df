// Package cni tells which CNI plugin, and so which NetworkPolicy
// implementation, a cluster runs, from what the cluster shows: the
// DaemonSets and Deployments that carry the plugin, their images, and the
// API groups its CRDs serve. It is pure: the suite lists the objects
// (package cluster) and hands them over as an Inventory.
//
// Detection names the policy *enforcer*, which is not always the pod
// network: Canal is flannel wired by Calico's policy engine, EKS can run
// Calico next to the VPC CNI, AKS runs Azure NPM or Cilium on top of Azure
// CNI. A report is read against that enforcer's profile of deviations.
package cni

import (
	"fmt"
	"slices"
	"strings"
)

// Unknown is the name of a cluster whose enforcer was not recognised.
const Unknown = "unknown"

// Container is one container of a workload, with what detection reads.
type Container struct {
	Name  string
	Image string
	Args  []string
	// Env holds the container's literal environment values.
	Env map[string]string
}

// Workload is a DaemonSet or Deployment of the cluster.
type Workload struct {
	Kind       string // DaemonSet or Deployment
	Namespace  string
	Name       string
	Containers []Container
}

func (w Workload) String() string { return w.Kind + " " + w.Namespace + "/" + w.Name }

// Inventory is what the cluster shows about its network plugins.
type Inventory struct {
	Workloads []Workload
	// APIGroups are the API groups the cluster serves; CRD-based plugins
	// show up here even when their agent runs outside the cluster.
	APIGroups []string
	// CalicoVersion is spec.calicoVersion of Calico's ClusterInformation
	// "default", which calico-node (or the operator) keeps current. It is
	// the version source when Calico runs outside any DaemonSet.
	CalicoVersion string
}

// Detection is the enforcer a cluster runs, with the evidence.
type Detection struct {
	// Name is a plugin name (see Names), or Unknown.
	Name string `json:"name"`
	// Version is the plugin's version as its image tag or datastore says,
	// normalised to a leading "v"; empty when nothing says.
	Version string `json:"version"`
	// Enforces is false for plugins that do not implement NetworkPolicy
	// (flannel, the VPC CNI without its policy agent).
	Enforces bool `json:"enforces"`
	// Provider names a managed flavour when its images say so (aks, gke,
	// eks); empty otherwise.
	Provider string `json:"provider,omitempty"`
	// Evidence says what the detection rests on, for the report.
	Evidence string `json:"evidence"`
	// Overridden is true when the user named the plugin instead.
	Overridden bool `json:"overridden,omitempty"`
}

// String renders the detection as "name version", the way reports label
// a column.
func (d Detection) String() string {
	if d.Version == "" {
		return d.Name
	}
	return d.Name + " " + d.Version
}

// plugin is how one plugin shows itself in a cluster.
type plugin struct {
	name string
	// images match a container image's repository by its last path
	// elements, so any registry or mirror matches.
	images []string
	// workloads match a workload's name when the image says nothing
	// (GKE's anetd is Cilium under another image name).
	workloads []string
	// groups are API groups only this plugin serves.
	groups []string
	// enforces says whether the plugin implements NetworkPolicy, given
	// the container that matched (nil when only a group matched).
	enforces func(c *Container) bool
}

func always(*Container) bool { return true }

// plugins in order of precedence: where several are present, the first
// is the one that enforces NetworkPolicy. Policy engines come before pod
// networks they are layered on.
var plugins = []plugin{
	{name: "calico", images: []string{"calico/node"}, groups: []string{"crd.projectcalico.org", "projectcalico.org"}, enforces: always},
	{name: "cilium", images: []string{"cilium/cilium"}, workloads: []string{"anetd"}, groups: []string{"cilium.io"}, enforces: always},
	{name: "antrea", images: []string{"antrea/antrea-agent-ubuntu", "antrea/antrea-ubuntu", "antrea/antrea-agent"}, groups: []string{"crd.antrea.io"}, enforces: always},
	{name: "weave", images: []string{"weaveworks/weave-npc", "rajch/weave-npc"}, enforces: always},
	{name: "kube-router", images: []string{"cloudnativelabs/kube-router"}, enforces: kubeRouterFirewall},
	{name: "kube-network-policies", images: []string{"networking/kube-network-policies", "kube-network-policies"}, enforces: always},
	{name: "azure-npm", images: []string{"containernetworking/azure-npm"}, enforces: always},
	{name: "aws-vpc-cni", images: []string{"amazon/aws-network-policy-agent", "aws-network-policy-agent"}, groups: []string{"networking.k8s.aws"}, enforces: awsPolicyAgent},
	// Pod networks without NetworkPolicy: named so a report says why
	// nothing is enforced, never the precedence winner over an engine.
	{name: "aws-vpc-cni", images: []string{"amazon-k8s-cni"}, enforces: never},
	{name: "flannel", images: []string{"flannel/flannel", "flannelcni/flannel", "coreos/flannel", "rancher/mirrored-flannelcni-flannel"}, enforces: never},
	{name: "weave", images: []string{"weaveworks/weave-kube", "rajch/weave-kube"}, enforces: never},
}

func never(*Container) bool { return false }

// kubeRouterFirewall: kube-router enforces NetworkPolicy unless its
// firewall is turned off (--run-firewall defaults to true).
func kubeRouterFirewall(c *Container) bool {
	for _, a := range c.Args {
		if a == "--run-firewall=false" {
			return false
		}
	}
	return true
}

// awsPolicyAgent: the VPC CNI's policy agent ships in every aws-node pod
// but enforces only with --enable-network-policy=true.
func awsPolicyAgent(c *Container) bool {
	if c == nil {
		return true // the PolicyEndpoint CRD is installed only when enabled
	}
	return slices.Contains(c.Args, "--enable-network-policy=true")
}

// Names lists the plugins Detect knows, sorted.
func Names() []string {
	var names []string
	for _, p := range plugins {
		if !slices.Contains(names, p.name) {
			names = append(names, p.name)
		}
	}
	slices.Sort(names)
	return names
}

type match struct {
	// byGroup is set when only an API group matched: CRDs outlive the
	// agent that installed them (a migration from Calico to Cilium leaves
	// Calico's), so a running workload says more.
	byGroup  bool
	plugin   *plugin
	version  string
	provider string
	enforces bool
	evidence string
}

// Detect names the enforcer of the inventory's cluster.
func Detect(inv Inventory) Detection {
	var found []match
	for i := range plugins {
		if m, ok := detectOne(&plugins[i], inv); ok {
			found = append(found, m)
		}
	}
	// The first enforcing workload wins, then the first enforcing plugin
	// known by its API group alone; failing both, the first pod network,
	// which then says nothing enforces here.
	best := -1
	for _, byGroup := range []bool{false, true} {
		for i, m := range found {
			if best < 0 && m.enforces && m.byGroup == byGroup {
				best = i
			}
		}
	}
	if best < 0 && len(found) > 0 {
		best = 0
	}
	if best < 0 {
		return Detection{Name: Unknown, Evidence: "no known CNI plugin among the cluster's DaemonSets, Deployments and API groups"}
	}
	m := found[best]
	d := Detection{Name: m.plugin.name, Version: m.version, Enforces: m.enforces, Provider: m.provider, Evidence: m.evidence}
	var others []string
	for i, o := range found {
		if i != best && o.plugin.name != m.plugin.name {
			others = append(others, o.plugin.name)
		}
	}
	if len(others) > 0 {
		d.Evidence += "; also present: " + strings.Join(others, ", ")
	}
	return d
}

func detectOne(p *plugin, inv Inventory) (match, bool) {
	for _, w := range inv.Workloads {
		for i := range w.Containers {
			c := &w.Containers[i]
			repo, tag := splitImage(c.Image)
			if !matchesRepo(repo, p.images) && !slices.Contains(p.workloads, w.Name) {
				continue
			}
			m := match{plugin: p, version: normaliseVersion(tag), provider: provider(repo), enforces: p.enforces(c),
				evidence: fmt.Sprintf("%s container %s image %s", w, c.Name, c.Image)}
			if p.name == "calico" && m.version == "" {
				m.version = normaliseVersion(inv.CalicoVersion)
			}
			return m, true
		}
	}
	for _, g := range p.groups {
		if !slices.Contains(inv.APIGroups, g) {
			continue
		}
		m := match{plugin: p, byGroup: true, enforces: p.enforces(nil), evidence: "API group " + g + " is served"}
		if p.name == "calico" && inv.CalicoVersion != "" {
			m.version = normaliseVersion(inv.CalicoVersion)
			m.evidence += "; ClusterInformation default says calicoVersion " + inv.CalicoVersion
		}
		return m, true
	}
	return match{}, false
}

// splitImage splits "registry/path/name:tag@sha256:..." into the
// repository and the tag (empty when the image is pinned by digest only).
func splitImage(image string) (repo, tag string) {
	image, _, _ = strings.Cut(image, "@")
	slash := strings.LastIndex(image, "/")
	if colon := strings.LastIndex(image, ":"); colon > slash {
		return image[:colon], image[colon+1:]
	}
	return image, ""
}

// matchesRepo reports whether repo ends with one of the path suffixes,
// at a path boundary.
func matchesRepo(repo string, suffixes []string) bool {
	for _, s := range suffixes {
		if repo == s || strings.HasSuffix(repo, "/"+s) {
			return true
		}
	}
	return false
}

// provider recognises the managed providers' registries.
func provider(repo string) string {
	switch {
	case strings.HasPrefix(repo, "mcr.microsoft.com/"):
		return "aks"
	case strings.HasPrefix(repo, "gke.gcr.io/"), strings.Contains(repo, "gcr.io/gke-"):
		return "gke"
	case strings.Contains(repo, ".dkr.ecr.") && strings.Contains(repo, ".amazonaws.com/"):
		return "eks"
	}
	return ""
}

// normaliseVersion turns an image tag into a version profiles can
// compare: "3.31.0" and "v3.31.0" both give "v3.31.0"; "latest" or a
// build suffix-only tag gives "".
func normaliseVersion(tag string) string {
	if tag == "" || tag == "latest" {
		return ""
	}
	if tag[0] >= '0' && tag[0] <= '9' {
		tag = "v" + tag
	}
	if len(tag) < 2 || tag[0] != 'v' || tag[1] < '0' || tag[1] > '9' {
		return ""
	}
	return tag
}

// Override parses the user's "name" or "name@version" (NETPOL_CNI): it
// wins over detection, for enforcers that run outside the cluster or
// images detection does not know.
func Override(value string, detected Detection) (Detection, error) {
	name, version, _ := strings.Cut(value, "@")
	name = strings.TrimSpace(name)
	if name == "" {
		return Detection{}, fmt.Errorf("CNI override %q: want NAME or NAME@VERSION, e.g. calico@v3.31.0", value)
	}
	if name != "none" && !slices.Contains(Names(), name) {
		return Detection{}, fmt.Errorf("CNI override %q: unknown plugin %q: want one of %s, or none (for a plugin not listed, leave NETPOL_CNI unset: the run is reported as %s)",
			value, name, strings.Join(Names(), ", "), Unknown)
	}
	if version != "" && normaliseVersion(version) == "" {
		return Detection{}, fmt.Errorf("CNI override %q: version %q is not a version like v3.31.0", value, version)
	}
	d := Detection{Name: name, Version: normaliseVersion(version), Enforces: name != "none" && name != "flannel",
		Evidence: "named by the user (NETPOL_CNI=" + value + ")", Overridden: true}
	if detected.Name != Unknown {
		d.Evidence += "; detection said " + detected.String() + " (" + detected.Evidence + ")"
	} else {
		d.Evidence += "; detection alone finds " + Unknown
	}
	return d, nil
}
