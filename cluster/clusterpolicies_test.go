package cluster

import (
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	fakediscovery "k8s.io/client-go/discovery/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/netpol-conformance/netpol-conformance/clusterpolicy"
)

func decodeObject(t *testing.T, doc string) *clusterpolicy.Object {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var o clusterpolicy.Object
	if err := json.Unmarshal(js, &o); err != nil {
		t.Fatal(err)
	}
	return &o
}

// A cluster-wide policy sent for a run may only ever apply to the run's
// own pods, whatever its subject says.
func TestClusterPolicyIsScopedToTheRun(t *testing.T) {
	names := Names{"x": "netpol-r1-x", "y": "netpol-r1-y"}
	for _, doc := range []string{
		"apiVersion: policy.networking.k8s.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: p}\nspec: {tier: Admin, priority: 1, subject: {namespaces: {}}, ingress: [{action: Deny, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: \"y\"}}}]}]}",
		"apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: p}\nspec: {priority: 1, subject: {pods: {namespaceSelector: {}, podSelector: {}}}, ingress: [{action: Deny, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: \"y\"}}}], ports: [{portNumber: {port: 80}}]}]}",
		"apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec: {subject: {namespaces: {}}, ingress: [{action: Deny, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: \"y\"}}}]}]}",
	} {
		o := decodeObject(t, doc)
		u, err := names.ClusterPolicy(o, "r1")
		if err != nil {
			t.Fatal(err)
		}
		data, _ := u.MarshalJSON()
		var sent clusterpolicy.Object
		if err := json.Unmarshal(data, &sent); err != nil {
			t.Fatalf("%s: %v\n%s", o.Kind(), err, data)
		}
		sel, err := metav1.LabelSelectorAsSelector(sent.SubjectNamespaces())
		if err != nil {
			t.Fatal(err)
		}
		if sel.Matches(labels.Set{"ns": "x"}) || !sel.Matches(labels.Set{RunLabel: "r1"}) || sel.Matches(labels.Set{RunLabel: "r2"}) {
			t.Errorf("%s: subject %s selects namespaces of other runs, or not this run's", o.Kind(), sel)
		}
		if u.GetLabels()[RunLabel] != "r1" {
			t.Errorf("%s: labels %v", o.Kind(), u.GetLabels())
		}
		wantName := "netpol-r1-p"
		if o.Kind() == clusterpolicy.KindBaselineAdminNetworkPolicy {
			wantName = "default"
		}
		if u.GetName() != wantName {
			t.Errorf("%s: name %s, want %s", o.Kind(), u.GetName(), wantName)
		}
		if strings.Contains(string(data), `"protocol":""`) {
			t.Errorf("%s: a port is sent with an empty protocol, which the CRD does not default:\n%s", o.Kind(), data)
		}
		if !strings.Contains(string(data), `"netpol-r1-y"`) {
			t.Errorf("%s: the peer's namespace name is not renamed:\n%s", o.Kind(), data)
		}
		// The case's object is untouched.
		if o.Name() != strings.TrimPrefix(wantName, "netpol-r1-") {
			t.Errorf("%s: the case's object was renamed to %s", o.Kind(), o.Name())
		}
	}
}

func TestDiscoverClusterPolicyAPIs(t *testing.T) {
	disc := &fakediscovery.FakeDiscovery{Fake: &k8stesting.Fake{}}
	disc.Resources = []*metav1.APIResourceList{
		{GroupVersion: "policy.networking.k8s.io/v1alpha2", APIResources: []metav1.APIResource{{Name: "clusternetworkpolicies"}}},
		{GroupVersion: "policy.networking.k8s.io/v1alpha1", APIResources: []metav1.APIResource{{Name: "adminnetworkpolicies"}}},
	}
	served, err := DiscoverClusterPolicyAPIs(disc)
	if err != nil {
		t.Fatal(err)
	}
	if got := served[clusterpolicy.KindClusterNetworkPolicy].Version.Version; got != "v1alpha2" {
		t.Errorf("ClusterNetworkPolicy served as %q, want v1alpha2 (v1beta1 is not served)", got)
	}
	if !served.Serves(clusterpolicy.ClusterAPI) || served.Serves(clusterpolicy.AdminAPI) {
		t.Errorf("serves: cluster %v, admin %v", served.Serves(clusterpolicy.ClusterAPI), served.Serves(clusterpolicy.AdminAPI))
	}
	if why := served.NotServed(clusterpolicy.AdminAPI); !strings.Contains(why, "BaselineAdminNetworkPolicy") || strings.Contains(why, "AdminNetworkPolicy,") {
		t.Errorf("NotServed = %q: want only BaselineAdminNetworkPolicy missing", why)
	}
}
