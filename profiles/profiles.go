// Package profiles holds what is already known about each CNI plugin's
// reading of the NetworkPolicy spec: one YAML file per plugin, each entry
// a case of the table that the plugin fails on purpose or by a documented
// bug, with the versions it applies to and the upstream issue or document
// that says so. A report classes a failing case the profile predicts as a
// known deviation, not a regression, and a passing one it predicts as
// fixed: a prompt to update the profile.
//
// The profiles are data, embedded in the binary, and pure to load.
package profiles

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/blang/semver/v4"
	corev1 "k8s.io/api/core/v1"

	"github.com/netpol-conformance/netpol-conformance/internal/strictyaml"
	"github.com/netpol-conformance/netpol-conformance/model"
	"github.com/netpol-conformance/netpol-conformance/record"
)

//go:embed *.yaml
var builtin embed.FS

// Class says how a deviation stands to the spec.
type Class string

const (
	// KnownDeviation departs from what the spec says.
	KnownDeviation Class = "known-deviation"
	// ImplementationDefined is a reading of something the spec leaves
	// open, which the case pins one way.
	ImplementationDefined Class = "implementation-defined"
)

// Profile is one plugin's file.
type Profile struct {
	// CNI is the plugin's name as package cni detects it; the file is
	// named after it.
	CNI string `json:"cni"`
	// Project is the plugin's upstream home.
	Project string `json:"project"`
	// Deviations are the cases the plugin is known to fail.
	Deviations []Deviation `json:"deviations"`
	// Source is the file the profile came from.
	Source string `json:"-"`
}

// Deviation is one documented behaviour of a plugin and the cases of the
// table it makes fail.
type Deviation struct {
	// Cases name cases of the table.
	Cases []string `json:"cases"`
	Class Class    `json:"class"`
	// Behaviour says, in a sentence or two, what the plugin does instead.
	Behaviour string `json:"behaviour"`
	// Versions bounds the plugin versions the deviation applies to.
	Versions Versions `json:"versions"`
	// Link is the upstream issue, pull request or document that shows it.
	Link string `json:"link"`
	// Reading names the variant of the model (model.Reading) that says
	// what the plugin does instead, for any policy set: a departure is this
	// deviation when the cluster did exactly what the reading predicts,
	// whichever case or policy set showed it.
	Reading model.Reading `json:"reading,omitempty"`
	// Departures are the exact cells the listed cases depart in, for a
	// behaviour no reading captures. A case's failure is this deviation
	// when its wrong cells are exactly these.
	Departures []Departure `json:"departures,omitempty"`
	// Placement scopes the deviation to cells between pods on one node or
	// on different nodes: a departure is this deviation only when every
	// wrong cell has that placement. Empty is any placement.
	Placement record.Placement `json:"placement,omitempty"`
}

// Departure is one cell a case departs in.
type Departure struct {
	Case     string          `json:"case"`
	Stage    string          `json:"stage"`
	From     string          `json:"from"`
	To       string          `json:"to"`
	Port     int32           `json:"port"`
	Protocol corev1.Protocol `json:"protocol"`
	// Observed is what the plugin does: allowed or blocked.
	Observed string `json:"observed"`
}

// Predicts reports whether the deviation states what the plugin does,
// by a reading or by cells; one that does not can say a case is fixed but
// never explain a failure.
func (d *Deviation) Predicts() bool { return d.Reading != "" || len(d.Departures) > 0 }

// Versions is a half-open range of plugin versions, [Since, FixedIn);
// either end may be open.
type Versions struct {
	Since   string `json:"since,omitempty"`
	FixedIn string `json:"fixedIn,omitempty"`
}

// Applies reports whether the range holds version. An unknown (empty or
// unparsable) version is held by no range: a profile explains the
// behaviour of the versions it names, and a guess would let a known
// deviation hide a regression.
func (v Versions) Applies(version string) bool {
	got, ok := release(version)
	if !ok {
		return false
	}
	if since, ok := release(v.Since); v.Since != "" && (!ok || got.LT(since)) {
		return false
	}
	if fixed, ok := release(v.FixedIn); v.FixedIn != "" && (!ok || got.GTE(fixed)) {
		return false
	}
	return true
}

// releaseOf finds the MAJOR.MINOR[.PATCH] a version starts with.
var releaseOf = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.(\d+))?`)

// release is the release a version is built from: vendors and
// pre-releases decorate it ("v1.14.10-1", "v1.17.0.1", "v1.17.0_gke",
// "v1.15.0-rc.1"), and as far as behaviour goes they are that release.
func release(version string) (semver.Version, bool) {
	m := releaseOf.FindStringSubmatch(version)
	if m == nil {
		return semver.Version{}, false
	}
	if m[3] == "" {
		m[3] = "0"
	}
	r, err := semver.Parse(m[1] + "." + m[2] + "." + m[3])
	return r, err == nil
}

func (v Versions) String() string {
	switch {
	case v.Since == "" && v.FixedIn == "":
		return "all versions"
	case v.FixedIn == "":
		return v.Since + " and later"
	case v.Since == "":
		return "before " + v.FixedIn
	}
	return v.Since + " up to, not including, " + v.FixedIn
}

// Set is the profiles of every plugin, by name.
type Set struct{ byCNI map[string]*Profile }

// Profile returns the named plugin's profile, or nil.
func (s Set) Profile(cni string) *Profile { return s.byCNI[cni] }

// CNIs lists the plugins with a profile, sorted.
func (s Set) CNIs() []string {
	var names []string
	for n := range s.byCNI {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ByReading returns the deviation of a plugin at a version that the reading
// comes from, or nil: the one listing caseName if several share the
// reading, else the first.
func (s Set) ByReading(cni, version string, r model.Reading, caseName string) *Deviation {
	p := s.byCNI[cni]
	if p == nil || r == "" {
		return nil
	}
	var found *Deviation
	for i := range p.Deviations {
		d := &p.Deviations[i]
		if d.Reading != r || !d.Versions.Applies(version) {
			continue
		}
		if slices.Contains(d.Cases, caseName) {
			return d
		}
		if found == nil {
			found = d
		}
	}
	return found
}

// Readings lists the readings of a plugin's deviations that apply to a
// version, in profile order.
func (s Set) Readings(cni, version string) []model.Reading {
	p := s.byCNI[cni]
	if p == nil {
		return nil
	}
	var rs []model.Reading
	for _, d := range p.Deviations {
		if d.Reading != "" && d.Versions.Applies(version) && !slices.Contains(rs, d.Reading) {
			rs = append(rs, d.Reading)
		}
	}
	return rs
}

// Lookup returns the deviation a plugin at a version is known to show on
// a case, or nil. An unknown version matches nothing.
func (s Set) Lookup(cni, version, caseName string) *Deviation {
	p := s.byCNI[cni]
	if p == nil {
		return nil
	}
	for i := range p.Deviations {
		d := &p.Deviations[i]
		if slices.Contains(d.Cases, caseName) && d.Versions.Applies(version) {
			return d
		}
	}
	return nil
}

// Builtin returns the profiles shipped with the suite.
func Builtin() (Set, error) { return Load(builtin) }

// Load reads every *.yaml file of fsys as a profile and reports every
// problem of every file at once.
func Load(fsys fs.FS) (Set, error) {
	s := Set{byCNI: map[string]*Profile{}}
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return Set{}, fmt.Errorf("listing profiles: %w", err)
	}
	var errs []error
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading profile %s: %w", name, err))
			continue
		}
		p, problems := Parse(name, data)
		for _, pr := range problems {
			errs = append(errs, pr)
		}
		if p != nil && len(problems) == 0 {
			s.byCNI[p.CNI] = p
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Set{}, err
	}
	return s, nil
}

// Problem is one thing wrong in a profile file.
type Problem struct {
	File   string
	Field  string
	Detail string
}

func (p *Problem) Error() string {
	if p.Field == "" {
		return p.File + ": " + p.Detail
	}
	return p.File + ": " + p.Field + ": " + p.Detail
}

// Parse decodes and validates one profile file. The profile is nil when
// the file cannot be decoded at all.
func Parse(file string, data []byte) (*Profile, []*Problem) {
	var p Profile
	fieldErrs, err := strictyaml.Decode(data, &p)
	if err != nil {
		return nil, []*Problem{{File: file, Detail: err.Error()}}
	}
	p.Source = file
	var problems []*Problem
	add := func(field, format string, args ...any) {
		problems = append(problems, &Problem{File: file, Field: field, Detail: fmt.Sprintf(format, args...)})
	}
	for _, fe := range fieldErrs {
		add(fe.Path, "%s", fe.Detail)
	}
	if want := strings.TrimSuffix(path.Base(file), ".yaml"); p.CNI != want {
		add("cni", "is %q but the file is %s: name the file after the plugin, as detection names it (%s.yaml)", p.CNI, path.Base(file), p.CNI)
	}
	if err := checkLink(p.Project); err != nil {
		add("project", "%v", err)
	}
	seen := map[string][]int{}
	for i, d := range p.Deviations {
		at := fmt.Sprintf("deviations[%d]", i)
		if len(d.Cases) == 0 {
			add(at+".cases", "is required: name the cases of the table the plugin fails (see `netpol-conformance list`)")
		}
		for j, c := range d.Cases {
			if c == "" {
				add(fmt.Sprintf("%s.cases[%d]", at, j), "is empty: name a case of the table")
			}
		}
		if d.Class != KnownDeviation && d.Class != ImplementationDefined {
			add(at+".class", "is %q: want %s or %s", d.Class, KnownDeviation, ImplementationDefined)
		}
		if strings.TrimSpace(d.Behaviour) == "" {
			add(at+".behaviour", "is required: say what the plugin does instead of what the case expects")
		}
		if err := checkLink(d.Link); err != nil {
			add(at+".link", "%v", err)
		}
		if d.Placement != "" && !slices.Contains(record.Placements, d.Placement) {
			add(at+".placement", "is %q: want one of %v, or leave it out for any placement", d.Placement, record.Placements)
		}
		for field, v := range map[string]string{"since": d.Versions.Since, "fixedIn": d.Versions.FixedIn} {
			if v == "" {
				continue
			}
			if _, err := semver.Parse(strings.TrimPrefix(v, "v")); err != nil || !strings.HasPrefix(v, "v") {
				add(at+".versions."+field, "%q is not a release version: write it as vMAJOR.MINOR.PATCH, e.g. v3.31.0", v)
			}
		}
		if since, ok := release(d.Versions.Since); ok && d.Versions.FixedIn != "" {
			if fixed, ok := release(d.Versions.FixedIn); ok && !since.LT(fixed) {
				add(at+".versions", "since %s is not before fixedIn %s", d.Versions.Since, d.Versions.FixedIn)
			}
		}
		// A reading explains cases no entry lists, so one reading must
		// mean one class: otherwise the file's order would decide whether
		// a departure fails.
		for j := range i {
			if o := p.Deviations[j]; d.Reading != "" && o.Reading == d.Reading && o.Class != d.Class {
				add(at+".reading", "%s is also deviations[%d]'s reading, with class %s: one reading has one class", d.Reading, j, o.Class)
			}
		}
		if d.Reading != "" && !d.Reading.Valid() {
			add(at+".reading", "%q is not a reading the model knows: want one of %v", d.Reading, model.Readings)
		}
		for j, dep := range d.Departures {
			dat := fmt.Sprintf("%s.departures[%d]", at, j)
			if !slices.Contains(d.Cases, dep.Case) {
				add(dat+".case", "%q is not in this entry's cases", dep.Case)
			}
			if dep.Observed != "allowed" && dep.Observed != "blocked" {
				add(dat+".observed", "is %q: want allowed or blocked", dep.Observed)
			}
			if dep.From == "" || dep.To == "" || dep.Stage == "" || dep.Port == 0 {
				add(dat, "needs case, stage, from, to, port and observed (protocol defaults to TCP)")
			}
		}
		// Two entries for one case must cover different versions; one
		// case-and-version gets one verdict.
		for _, c := range d.Cases {
			for _, j := range seen[c] {
				if overlap(p.Deviations[j].Versions, d.Versions) {
					add(at+".cases", "%q is also in deviations[%d] for the same versions: split their version ranges", c, j)
				}
			}
			seen[c] = append(seen[c], i)
		}
	}
	return &p, problems
}

func overlap(a, b Versions) bool {
	// Ranges [s1, f1) and [s2, f2) overlap unless one ends before the
	// other begins.
	endsBefore := func(x, y Versions) bool {
		return x.FixedIn != "" && y.Since != "" && !(Versions{FixedIn: x.FixedIn}).Applies(y.Since)
	}
	return !endsBefore(a, b) && !endsBefore(b, a)
}

func checkLink(link string) error {
	u, err := url.Parse(link)
	if link == "" || err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not an https URL: link the upstream issue, pull request or document", link)
	}
	return nil
}
