// Package npareport renders the cluster-wide families of a run as the
// ConformanceReport of SIG Network's network-policy-api conformance suite
// (sigs.k8s.io/network-policy-api/conformance/apis/v1alpha1), so our
// results can be set next to the reports implementations publish in that
// repository's conformance/reports. It is pure: it reads a classified run
// and the case table.
package npareport

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	confv1alpha1 "sigs.k8s.io/network-policy-api/conformance/apis/v1alpha1"

	"github.com/netpol-conformance/netpol-conformance/cases"
	"github.com/netpol-conformance/netpol-conformance/profiles"
	"github.com/netpol-conformance/netpol-conformance/record"
	"github.com/netpol-conformance/netpol-conformance/results"
)

// File is the report's name in the results.
const File = "network-policy-api-conformance-report.yaml"

// Implementation says what was tested, as the report's implementation
// block wants it.
type Implementation = confv1alpha1.Implementation

// Build renders run's cases of the cluster-wide families. Each case counts
// in the profile of every kind it uses, under experimental when it uses an
// experimental field. A pass, an implementation-defined reading and a fix
// count as passed; a failure, a known deviation (a failure the profile
// explains is still one) and a case that did not run as failed; a skip as
// skipped; a profile none of whose cases ran is left out. ok is false when
// no cluster-wide case ran at all.
func Build(run *results.Run, set *cases.Set, impl Implementation, now time.Time) (report *confv1alpha1.ConformanceReport, ok bool) {
	type tally struct {
		standard, experimental confv1alpha1.Status
		features               map[string]bool // feature -> ran
		hasExperimental        bool
	}
	byProfile := map[string]*tally{}
	var order []string
	for _, c := range run.Cases {
		tc := set.Case(record.TableCase(c.Name))
		if tc == nil {
			continue
		}
		objs := tc.ClusterObjects()
		if len(objs) == 0 {
			continue
		}
		// Each object counts in its own profile, with its own features.
		features := map[string][]string{}
		for i := range objs {
			p := objs[i].Profile()
			features[p] = append(features[p], objs[i].Features()...)
		}
		for _, p := range slices.Sorted(maps.Keys(features)) {
			t := byProfile[p]
			if t == nil {
				t = &tally{features: map[string]bool{}}
				byProfile[p] = t
				order = append(order, p)
			}
			status := &t.standard
			if len(features[p]) > 0 {
				status, t.hasExperimental = &t.experimental, true
				for _, f := range features[p] {
					t.features[f] = t.features[f] || c.Verdict != results.Skipped
				}
			}
			count(status, c)
		}
	}
	if len(order) == 0 {
		return nil, false
	}
	defer func() {
		if report != nil && len(report.ProfileReports) == 0 {
			report, ok = nil, false
		}
	}()
	report = &confv1alpha1.ConformanceReport{
		Implementation: impl,
		Date:           now.Format(time.RFC3339),
	}
	report.APIVersion, report.Kind = "policy.networking.k8s.io/v1alpha1", "ConformanceReport"
	if rec := run.Record; rec != nil && rec.Cluster != nil {
		for _, api := range rec.Cluster.ClusterPolicyAPIs {
			if api.BundleVersion != "" {
				report.NetworkPolicyBundleVersion = api.BundleVersion
			}
		}
	}
	slices.Sort(order)
	for _, p := range order {
		t := byProfile[p]
		// Upstream reports the profiles it ran: one whose every case was
		// skipped (its API not served here) is left out.
		if ran := t.standard.Passed + t.standard.Failed + t.experimental.Passed + t.experimental.Failed; ran == 0 {
			continue
		}
		pr := confv1alpha1.ProfileReport{Name: p, Standard: finish(t.standard)}
		if t.hasExperimental {
			exp := &confv1alpha1.ExperimentalStatus{Status: finish(t.experimental)}
			for _, f := range slices.Sorted(maps.Keys(t.features)) {
				if t.features[f] {
					exp.SupportedFeatures = append(exp.SupportedFeatures, f)
				} else {
					exp.UnsupportedFeatures = append(exp.UnsupportedFeatures, f)
				}
			}
			pr.Experimental = exp
		}
		report.ProfileReports = append(report.ProfileReports, pr)
	}
	return report, true
}

func count(s *confv1alpha1.Status, c results.Case) {
	switch c.Verdict {
	case results.Pass, results.ImplementationDefined, results.Fixed:
		s.Passed++
	case results.Skipped:
		s.Skipped++
		s.SkippedTests = append(s.SkippedTests, c.Name)
	default:
		s.Failed++
		s.FailedTests = append(s.FailedTests, c.Name)
	}
}

// finish sets the result as upstream's suite does (v0.3.0,
// compileStatus): a failure when any test failed or any required test was
// skipped, since none of ours is optional.
func finish(s confv1alpha1.Status) confv1alpha1.Status {
	s.Result = confv1alpha1.Success
	s.Summary = fmt.Sprintf("%d passed, %d failed, %d skipped (netpol-conformance cases)", s.Passed, s.Failed, s.Skipped)
	if s.Failed > 0 || s.Skipped > 0 {
		s.Result = confv1alpha1.Failure
	}
	if s.Skipped > 0 {
		s.Summary += "; required tests skipped: " + strings.Join(s.SkippedTests, ", ")
	}
	return s
}

// ImplementationOf describes the run's enforcer as the report's
// implementation block: the detected CNI, its version and upstream home.
// The report says where it came from, since it is not the upstream
// suite's.
func ImplementationOf(rec *record.Run, known profiles.Set) Implementation {
	impl := Implementation{Organization: "unknown", Project: "unknown", Version: "unknown",
		AdditionalInformation: "written by netpol-conformance from its own cluster-wide cases, not by network-policy-api's conformance suite: compare, do not submit"}
	if rec == nil || rec.Cluster == nil {
		return impl
	}
	if d := rec.Cluster.CNI; d.Name != "" {
		impl.Project = d.Name
		if d.Version != "" {
			impl.Version = d.Version
		}
		if p := known.Profile(d.Name); p != nil {
			impl.URL = p.Project
			if org, _, ok := strings.Cut(strings.TrimPrefix(p.Project, "https://github.com/"), "/"); ok && strings.HasPrefix(p.Project, "https://github.com/") {
				impl.Organization = org
				impl.Contact = []string{p.Project + "/issues/new"}
			}
		}
	}
	return impl
}

// Write writes the report of run to dir, when it has cluster-wide cases.
func Write(dir string, run *results.Run, set *cases.Set, impl Implementation, now time.Time) (written bool, err error) {
	report, ok := Build(run, set, impl, now)
	if !ok {
		return false, nil
	}
	data, err := yaml.Marshal(report)
	if err != nil {
		return false, fmt.Errorf("encoding the network-policy-api conformance report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, File), data, 0o644); err != nil {
		return false, fmt.Errorf("writing the network-policy-api conformance report: %w", err)
	}
	return true, nil
}
