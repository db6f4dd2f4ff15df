// Package hoststate records the parts of the host that the local cluster
// changes (routes, netfilter rules, ipsets, links, network namespaces,
// mounts, sysctls, well-known directories, cgroups and processes) so that
// teardown can prove the host is back to where it was.
package hoststate

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Snapshot is the recorded host state; every field is a sorted set of
// stable lines, so two snapshots compare line by line.
type Snapshot struct {
	Routes   []string          `json:"routes"`
	Nftables []string          `json:"nftables"`
	Iptables []string          `json:"iptables"`
	Ipsets   []string          `json:"ipsets"`
	Links    []string          `json:"links"`
	Netns    []string          `json:"netns"`
	Mounts   []string          `json:"mounts"`
	Sysctls  map[string]string `json:"sysctls"`
	Paths    []string          `json:"paths"`
	// Files are "PATH sha256:HEX" (or "PATH absent") for each of the
	// watched files, whose content must not change.
	Files     []string `json:"files,omitempty"`
	Cgroups   []string `json:"cgroups"`
	Processes []string `json:"processes"`
	// Watch is what this snapshot looked at.
	Watch Watch `json:"watch"`
	// Format is FormatTables for snapshots whose netfilter lines name
	// their table; 0 for older ones, whose sorted lines lost it.
	Format int `json:"format,omitempty"`
}

// FormatTables is the snapshot format whose netfilter lines name their
// table and chain.
const FormatTables = 2

// NetfilterComparable reports whether the snapshot's netfilter lines can be
// compared with, and undone against, a capture of today's format.
func (s *Snapshot) NetfilterComparable() bool { return s.Format >= FormatTables }

// Watch is what a snapshot looks at beyond what it always records (routes,
// netfilter, ipsets, links, netns, mounts, kubepods cgroups): the kernel
// settings the cluster's components may change (relative to /proc/sys),
// the host directories they create whatever they are told, and the names
// (comm, at most 15 bytes) of their processes. localcluster derives it
// from its components and every enforcer's footprint; the snapshot keeps
// it, so a later capture looks at the same things.
type Watch struct {
	Sysctls   []string `json:"sysctls"`
	Paths     []string `json:"paths"`
	Files     []string `json:"files,omitempty"`
	Processes []string `json:"processes"`
}

// Capture records the current host state, looking at what w names.
func Capture(w Watch) (*Snapshot, error) {
	s := &Snapshot{Sysctls: map[string]string{}, Watch: w, Format: FormatTables}
	var err error
	r4, err := run("ip", "-4", "route", "show", "table", "all")
	if err != nil {
		return nil, err
	}
	r6, _ := run("ip", "-6", "route", "show", "table", "all")
	s.Routes = normalizeRoutes(r4 + r6)
	if out, err := run("nft", "-s", "list", "ruleset"); err == nil {
		s.Nftables = NormalizeNftables(out)
	}
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		if out, err := run(tool); err == nil {
			s.Iptables = append(s.Iptables, prefix(tool+": ", normalizeIptables(out))...)
		}
	}
	sort.Strings(s.Iptables)
	if out, err := run("ipset", "list", "-n"); err == nil {
		s.Ipsets = lines(out)
	}
	if out, err := run("ip", "-o", "link", "show"); err != nil {
		return nil, err
	} else {
		s.Links = linkNames(out)
	}
	if entries, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range entries {
			s.Netns = append(s.Netns, e.Name())
		}
	}
	if data, err := os.ReadFile("/proc/self/mountinfo"); err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	} else {
		s.Mounts = mountPoints(string(data))
	}
	for _, k := range w.Sysctls {
		if v, err := os.ReadFile(filepath.Join("/proc/sys", k)); err == nil {
			s.Sysctls[k] = strings.TrimSpace(string(v))
		}
	}
	for _, p := range w.Paths {
		if _, err := os.Stat(p); err == nil {
			s.Paths = append(s.Paths, p)
		}
	}
	for _, p := range w.Files {
		s.Files = append(s.Files, fileLine(p))
	}
	s.Cgroups = KubepodsCgroups()
	s.Processes = componentProcesses(set(w.Processes))
	sortAll(s)
	return s, nil
}

// fileLine is how a watched file is recorded: its content's digest.
func fileLine(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return path + " absent"
	}
	return fmt.Sprintf("%s sha256:%x", path, sha256.Sum256(data))
}

// NodeCgroupPrefix starts the name of each namespace node's cgroup root,
// made in every hierarchy, under which its kubelet puts its pods.
const NodeCgroupPrefix = "netpol-node-"

// KubepodsCgroups lists the cgroup directories of the cluster's pods in
// every v1 hierarchy (and the v2 root, should there be one): kubelet's QoS
// cgroups of the host node, and the namespace nodes' cgroup roots.
func KubepodsCgroups() []string {
	var out []string
	for _, pattern := range []string{"/sys/fs/cgroup/*/kubepods*", "/sys/fs/cgroup/kubepods*", "/sys/fs/cgroup/*/" + NodeCgroupPrefix + "*", "/sys/fs/cgroup/" + NodeCgroupPrefix + "*"} {
		matches, _ := filepath.Glob(pattern)
		out = append(out, matches...)
	}
	sort.Strings(out)
	return out
}

func componentProcesses(names map[string]bool) []string {
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == self {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			continue
		}
		name := strings.TrimSpace(string(comm))
		// A zombie holds nothing but its pid entry. Detached components
		// are reparented to PID 1 when `local up` exits, and a PID 1 that
		// is not an init (a container's) may never reap them.
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && isZombie(string(stat)) {
			continue
		}
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		// Pod processes (the agent, pause) live under kubepods.
		if names[name] || strings.Contains(string(cg), "kubepods") {
			out = append(out, fmt.Sprintf("%s (pid %d)", name, pid))
		}
	}
	return out
}

func isZombie(stat string) bool {
	i := strings.LastIndexByte(stat, ')')
	f := strings.Fields(stat[i+1:])
	return i >= 0 && len(f) > 0 && (f[0] == "Z" || f[0] == "X")
}

// Save writes the snapshot as JSON.
func (s *Snapshot) Save(path string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding host snapshot: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("writing host snapshot %s: %w", path, err)
	}
	return nil
}

// Load reads a snapshot written by Save.
func Load(path string) (*Snapshot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decoding host snapshot %s: %w", path, err)
	}
	return &s, nil
}

// Diff lists every difference between before and after, one line each,
// e.g. "links: added netpol0". An empty result means the host is as before.
func Diff(before, after *Snapshot) []string {
	var d []string
	d = append(d, diffSet("routes", before.Routes, after.Routes)...)
	if before.NetfilterComparable() {
		d = append(d, diffSet("nftables", before.Nftables, after.Nftables)...)
		d = append(d, diffSet("iptables", before.Iptables, after.Iptables)...)
	}
	d = append(d, diffSet("ipsets", before.Ipsets, after.Ipsets)...)
	d = append(d, diffSet("links", before.Links, after.Links)...)
	d = append(d, diffSet("netns", before.Netns, after.Netns)...)
	d = append(d, diffSet("mounts", before.Mounts, after.Mounts)...)
	d = append(d, diffSet("paths", before.Paths, after.Paths)...)
	d = append(d, diffSet("files", before.Files, after.Files)...)
	d = append(d, diffSet("cgroups", before.Cgroups, after.Cgroups)...)
	d = append(d, diffSet("processes", stripPids(before.Processes), stripPids(after.Processes))...)
	keys := make([]string, 0, len(before.Sysctls))
	for k := range before.Sysctls {
		keys = append(keys, k)
	}
	for k := range after.Sysctls {
		if _, ok := before.Sysctls[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		b, inB := before.Sysctls[k]
		a, inA := after.Sysctls[k]
		switch {
		case !inB:
			d = append(d, fmt.Sprintf("sysctls: %s appeared = %s", k, a))
		case !inA:
			d = append(d, fmt.Sprintf("sysctls: %s disappeared (was %s)", k, b))
		case a != b:
			d = append(d, fmt.Sprintf("sysctls: %s = %s, was %s", k, a, b))
		}
	}
	return d
}

// diffSet compares two multisets of lines.
func diffSet(kind string, before, after []string) []string {
	count := map[string]int{}
	for _, l := range before {
		count[l]--
	}
	for _, l := range after {
		count[l]++
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var d []string
	for _, k := range keys {
		for n := count[k]; n > 0; n-- {
			d = append(d, fmt.Sprintf("%s: added %s", kind, k))
		}
		for n := count[k]; n < 0; n++ {
			d = append(d, fmt.Sprintf("%s: removed %s", kind, k))
		}
	}
	return d
}

var pidSuffix = regexp.MustCompile(` \(pid \d+\)$`)

// stripPids compares processes by name: a restarted unrelated daemon must
// not count as a difference, a leftover kubelet must.
func stripPids(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = pidSuffix.ReplaceAllString(p, "")
	}
	return out
}

var expires = regexp.MustCompile(` expires -?\d+sec`)

func normalizeRoutes(out string) []string {
	var r []string
	for _, l := range lines(out) {
		r = append(r, expires.ReplaceAllString(l, ""))
	}
	return r
}

var counters = regexp.MustCompile(`\[\d+:\d+\]`)

// normalizeIptables drops comments and packet counters from iptables-save
// and qualifies each chain and rule with its table ("*filter -A FORWARD
// ..."), so that the snapshot, a sorted set, still says which table a rule
// is in: the same chain name exists in several tables.
func normalizeIptables(out string) []string {
	var r []string
	table := ""
	for _, l := range lines(out) {
		switch {
		case strings.HasPrefix(l, "#") || l == "COMMIT":
		case strings.HasPrefix(l, "*"):
			table = l
		default:
			r = append(r, table+" "+counters.ReplaceAllString(l, "[-]"))
		}
	}
	return r
}

// linkNames returns the interface names of `ip -o link show` ("2: eth0@if5: <...").
func linkNames(out string) []string {
	var r []string
	for _, l := range lines(out) {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		name := strings.TrimSuffix(f[1], ":")
		if i := strings.IndexByte(name, '@'); i >= 0 {
			name = name[:i]
		}
		r = append(r, name)
	}
	return r
}

// mountPoints returns "mountpoint fstype" for each line of a mountinfo file.
func mountPoints(mountinfo string) []string {
	var r []string
	for _, l := range lines(mountinfo) {
		f := strings.Fields(l)
		sep := -1
		for i, x := range f {
			if x == "-" {
				sep = i
				break
			}
		}
		if len(f) < 5 || sep < 0 || sep+1 >= len(f) {
			continue
		}
		r = append(r, f[4]+" "+f[sep+1])
	}
	return r
}

// NormalizeNftables turns `nft -s list ruleset` into lines that each name
// the blocks they are in ("table ip filter chain FORWARD: counter jump
// CNI-FORWARD"), with one line per block ("table ip filter chain FORWARD"):
// the snapshot is a sorted set, and a bare "chain INPUT {" would not say
// which table it belongs to.
func NormalizeNftables(out string) []string {
	var r, blocks []string
	for _, l := range lines(out) {
		l = strings.TrimSpace(l)
		switch {
		case l == "}":
			if len(blocks) > 0 {
				blocks = blocks[:len(blocks)-1]
			}
		case strings.HasSuffix(l, "{"):
			blocks = append(blocks, strings.TrimSpace(strings.TrimSuffix(l, "{")))
			r = append(r, strings.Join(blocks, " "))
		default:
			r = append(r, strings.Join(blocks, " ")+": "+l)
		}
	}
	return r
}

func set(ls []string) map[string]bool {
	m := make(map[string]bool, len(ls))
	for _, l := range ls {
		m[l] = true
	}
	return m
}

func lines(s string) []string {
	var r []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, " \t"); l != "" {
			r = append(r, l)
		}
	}
	return r
}

func prefix(p string, ls []string) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = p + l
	}
	return out
}

func sortAll(s *Snapshot) {
	for _, l := range [][]string{s.Routes, s.Nftables, s.Ipsets, s.Links, s.Netns, s.Mounts, s.Paths, s.Cgroups, s.Processes} {
		sort.Strings(l)
	}
}

func run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "", fmt.Errorf("running %s %s: %w", name, strings.Join(args, " "), err)
	}
	return string(out), nil
}
