package profiles

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/netpol-conformance/netpol-conformance/cases"
	"github.com/netpol-conformance/netpol-conformance/cni"
)

// TestBuiltin checks the shipped profiles against the case table and the
// plugin names detection gives: an entry for a renamed case or a plugin
// detection never reports would never apply.
func TestBuiltin(t *testing.T) {
	set, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	table, err := cases.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	known := cni.Names()
	for _, name := range set.CNIs() {
		p := set.Profile(name)
		if !contains(known, name) {
			t.Errorf("%s: cni %q is not a name detection gives (%v)", p.Source, name, known)
		}
		for i, d := range p.Deviations {
			for j, c := range d.Cases {
				if table.Case(c) == nil {
					t.Errorf("%s: deviations[%d].cases[%d] %q is not in the case table", p.Source, i, j, c)
				}
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestVersionsApplies(t *testing.T) {
	tests := []struct {
		v       Versions
		version string
		want    bool
	}{
		{Versions{}, "v1.0.0", true},
		{Versions{Since: "v3.20.0"}, "v3.19.9", false},
		{Versions{Since: "v3.20.0"}, "v3.20.0", true},
		{Versions{FixedIn: "v1.15.0"}, "v1.14.10", true},
		{Versions{FixedIn: "v1.15.0"}, "v1.15.0", false},
		{Versions{FixedIn: "v1.15.0"}, "v1.15.0-rc.1", false}, // a pre-release counts as its release
		{Versions{FixedIn: "v1.15.0"}, "v1.14.10-1", true},    // a vendor build counts as its release
		{Versions{FixedIn: "v1.16.0"}, "v1.17.0-01", false},
		{Versions{FixedIn: "v1.16.0"}, "v1.17.0.1", false},
		{Versions{FixedIn: "v1.16.0"}, "v1.17.0_gke", false},
		{Versions{FixedIn: "v1.16.0"}, "v1.15", true},
		{Versions{Since: "v2.0.0", FixedIn: "v2.2.0"}, "v2.1.0", true},
		{Versions{Since: "v2.0.0", FixedIn: "v2.2.0"}, "", false},       // unknown: a profile explains the versions it names
		{Versions{}, "", false},                                         // even an open range
		{Versions{Since: "v2.0.0", FixedIn: "v2.2.0"}, "main", false},   // unparsable: likewise
		{Versions{Since: "v2.0.0", FixedIn: "v2.2.0"}, "v2.2.1", false}, // after the fix
	}
	for _, tc := range tests {
		if got := tc.v.Applies(tc.version); got != tc.want {
			t.Errorf("%+v.Applies(%q) = %v, want %v", tc.v, tc.version, got, tc.want)
		}
	}
}

const valid = `cni: calico
project: https://github.com/projectcalico/calico
deviations:
- cases: [named-port-egress]
  class: known-deviation
  behaviour: egress to a named port is ignored
  versions: {since: v3.0.0, fixedIn: v3.20.0}
  link: https://github.com/projectcalico/calico/issues/1
- cases: [named-port-egress]
  class: known-deviation
  behaviour: egress to a named port drops UDP
  versions: {since: v3.20.0}
  link: https://github.com/projectcalico/calico/issues/2
`

func TestLookup(t *testing.T) {
	set, err := Load(fstest.MapFS{"calico.yaml": {Data: []byte(valid)}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cni, version, caseName string
		wantLink               string
	}{
		{"calico", "v3.10.0", "named-port-egress", "https://github.com/projectcalico/calico/issues/1"},
		{"calico", "v3.31.0", "named-port-egress", "https://github.com/projectcalico/calico/issues/2"},
		{"calico", "v3.31.0", "deny-all-ingress-in-x", ""},
		{"cilium", "v1.18.0", "named-port-egress", ""},
	}
	for _, tc := range tests {
		d := set.Lookup(tc.cni, tc.version, tc.caseName)
		got := ""
		if d != nil {
			got = d.Link
		}
		if got != tc.wantLink {
			t.Errorf("Lookup(%s, %s, %s) = %q, want %q", tc.cni, tc.version, tc.caseName, got, tc.wantLink)
		}
	}
}

// TestParseProblems: every problem of a file is reported at once, with the
// file, the field and what to do.
func TestParseProblems(t *testing.T) {
	tests := []struct {
		name, file, data string
		want             []string
	}{
		{
			name: "file named after another plugin",
			file: "cilium.yaml", data: valid,
			want: []string{`cilium.yaml: cni: is "calico" but the file is cilium.yaml`},
		},
		{
			name: "unknown field and bad values, all at once",
			file: "weave.yaml",
			data: `cni: weave
project: http://github.com/weaveworks/weave
deviations:
- cases: []
  class: bug
  behavior: typo
  versions: {since: 2.8.1}
  link: github.com/weaveworks/weave/issues/1
`,
			want: []string{
				`weave.yaml: project: "http://github.com/weaveworks/weave" is not an https URL`,
				`weave.yaml: deviations[0].cases: is required`,
				`weave.yaml: deviations[0].class: is "bug": want known-deviation or implementation-defined`,
				`weave.yaml: deviations[0].behaviour: is required`,
				`deviations[0].behavior: unknown field`,
				`weave.yaml: deviations[0].link: "github.com/weaveworks/weave/issues/1" is not an https URL`,
				`weave.yaml: deviations[0].versions.since: "2.8.1" is not a release version: write it as vMAJOR.MINOR.PATCH`,
			},
		},
		{
			name: "overlapping entries for one case",
			file: "calico.yaml",
			data: strings.Replace(valid, "{since: v3.20.0}", "{since: v3.19.0}", 1),
			want: []string{`calico.yaml: deviations[1].cases: "named-port-egress" is also in deviations[0] for the same versions`},
		},
		{
			name: "range that ends before it starts",
			file: "calico.yaml",
			data: strings.Replace(valid, "{since: v3.0.0, fixedIn: v3.20.0}", "{since: v3.20.0, fixedIn: v3.0.0}", 1),
			want: []string{`calico.yaml: deviations[0].versions: since v3.20.0 is not before fixedIn v3.0.0`},
		},
		{
			// Once a panic: the range check parsed what validation had
			// already refused.
			name: "a version semver cannot parse, in a range",
			file: "calico.yaml",
			data: strings.Replace(valid, "{since: v3.0.0, fixedIn: v3.20.0}", `{since: "v1.2.3-rc!1", fixedIn: v3.20.0}`, 1),
			want: []string{`calico.yaml: deviations[0].versions.since: "v1.2.3-rc!1" is not a release version`},
		},
		{
			name: "an unknown reading and a bad departure",
			file: "calico.yaml",
			data: strings.Replace(valid, "  link: https://github.com/projectcalico/calico/issues/1\n", `  link: https://github.com/projectcalico/calico/issues/1
  reading: named-ports-sometimes
  departures:
  - {case: other-case, stage: initial, from: x/a, to: x/b, port: 80, observed: open}
`, 1),
			want: []string{
				`calico.yaml: deviations[0].reading: "named-ports-sometimes" is not a reading the model knows`,
				`calico.yaml: deviations[0].departures[0].case: "other-case" is not in this entry's cases`,
				`calico.yaml: deviations[0].departures[0].observed: is "open": want allowed or blocked`,
			},
		},
		{
			name: "not YAML",
			file: "calico.yaml", data: "cni: [",
			want: []string{"calico.yaml: invalid YAML"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(fstest.MapFS{tc.file: {Data: []byte(tc.data)}})
			if err == nil {
				t.Fatal("Load accepted the file")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
