package npareport

import (
	"testing"
	"time"

	confv1alpha1 "sigs.k8s.io/network-policy-api/conformance/apis/v1alpha1"

	"github.com/netpol-conformance/netpol-conformance/cases"
	"github.com/netpol-conformance/netpol-conformance/record"
	"github.com/netpol-conformance/netpol-conformance/results"
)

func TestBuild(t *testing.T) {
	set, err := cases.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	run := &results.Run{
		Cases: []results.Case{
			{Name: record.EnforcementCheck, Verdict: results.Pass},
			{Name: "deny-all-ingress-in-x", Verdict: results.Fail}, // a NetworkPolicy case: not in the report
			{Name: "cnp-admin-deny-beats-networkpolicy-allow", Verdict: results.Pass},
			{Name: "cnp-admin-accept-beats-networkpolicy-deny", Verdict: results.Fail},
			{Name: "cnp-equal-priority-conflict", Verdict: results.ImplementationDefined},
			{Name: "cnp-named-port", Verdict: results.Skipped},
			{Name: "anp-named-port", Verdict: results.KnownDeviation},
			{Name: "banp-default-deny", Verdict: results.Pass},
		},
		Record: &record.Run{Cluster: &record.Cluster{ClusterPolicyAPIs: []record.ServedAPI{{Kind: "ClusterNetworkPolicy", APIVersion: "policy.networking.k8s.io/v1beta1", BundleVersion: "v0.3.0"}}}},
	}
	rep, ok := Build(run, set, Implementation{Project: "p"}, time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC))
	if !ok {
		t.Fatal("no report")
	}
	if rep.Kind != "ConformanceReport" || rep.NetworkPolicyBundleVersion != "v0.3.0" || rep.Date != "2026-12-04T00:00:00Z" {
		t.Errorf("header = %s %s %s", rep.Kind, rep.NetworkPolicyBundleVersion, rep.Date)
	}
	byName := map[string]confv1alpha1.ProfileReport{}
	for _, p := range rep.ProfileReports {
		byName[p.Name] = p
	}
	cnp := byName["ClusterNetworkPolicy"]
	if s := cnp.Standard; s.Passed != 2 || s.Failed != 1 || s.Result != confv1alpha1.Failure || len(s.FailedTests) != 1 || s.FailedTests[0] != "cnp-admin-accept-beats-networkpolicy-deny" {
		t.Errorf("ClusterNetworkPolicy standard = %+v", s)
	}
	// A required test skipped fails the profile, as upstream's does.
	if e := cnp.Experimental; e == nil || e.Skipped != 1 || e.Result != confv1alpha1.Failure || len(e.UnsupportedFeatures) != 1 || e.UnsupportedFeatures[0] != "ClusterNetworkPolicyNamedPorts" {
		t.Errorf("ClusterNetworkPolicy experimental = %+v", e)
	}
	// A known deviation is a failure in upstream's terms.
	if e := byName["AdminNetworkPolicy"].Experimental; e == nil || e.Failed != 1 || e.Result != confv1alpha1.Failure || e.SupportedFeatures[0] != "AdminNetworkPolicyNamedPorts" {
		t.Errorf("AdminNetworkPolicy experimental = %+v", e)
	}
	if s := byName["BaselineAdminNetworkPolicy"].Standard; s.Passed != 1 || s.Result != confv1alpha1.Success {
		t.Errorf("BaselineAdminNetworkPolicy standard = %+v", s)
	}
	if _, ok := Build(&results.Run{Cases: []results.Case{{Name: "deny-all-ingress-in-x", Verdict: results.Pass}}}, set, Implementation{}, time.Now()); ok {
		t.Error("a report for a run without cluster-wide cases")
	}
	// Every case of a profile skipped: the profile did not run.
	if _, ok := Build(&results.Run{Cases: []results.Case{{Name: "banp-default-deny", Verdict: results.Skipped}}}, set, Implementation{}, time.Now()); ok {
		t.Error("a report for a run whose cluster-wide cases were all skipped")
	}
}
