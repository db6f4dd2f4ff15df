package clusterpolicy

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

func decode(t *testing.T, doc string) (*Object, error) {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var o Object
	return &o, json.Unmarshal(js, &o)
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, doc, kind, apiVersion, ref, wantErr string
	}{
		{"anp", "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: a}\nspec: {priority: 1, subject: {namespaces: {}}}", KindAdminNetworkPolicy, "policy.networking.k8s.io/v1alpha1", "anp/a", ""},
		{"banp", "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec: {subject: {namespaces: {}}}", KindBaselineAdminNetworkPolicy, "policy.networking.k8s.io/v1alpha1", "banp/default", ""},
		{"cnp v1beta1", "apiVersion: policy.networking.k8s.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: c}\nspec: {tier: Admin, priority: 1, subject: {namespaces: {}}}", KindClusterNetworkPolicy, "policy.networking.k8s.io/v1beta1", "cnp/c", ""},
		{"cnp v1alpha2", "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: c}\nspec: {tier: Baseline, priority: 1, subject: {namespaces: {}}}", KindClusterNetworkPolicy, "policy.networking.k8s.io/v1alpha2", "cnp/c", ""},
		{"unknown field", "apiVersion: policy.networking.k8s.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: c}\nspec: {tier: Admin, priority: 1, subject: {namespaces: {}}, ingres: []}", "", "", "", `unknown field "spec.ingres"`},
		{"a field of the other generation", "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: a}\nspec: {tier: Admin, priority: 1, subject: {namespaces: {}}}", "", "", "", `unknown field "spec.tier"`},
		{"unknown kind", "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: ClusterNetworkPolicy\nmetadata: {name: c}", "", "", "", "is not a cluster-wide policy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := decode(t, tc.doc)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Kind() != tc.kind || o.APIVersion != tc.apiVersion || o.Ref() != tc.ref {
				t.Errorf("decoded %s %s %s, want %s %s %s", o.Kind(), o.APIVersion, o.Ref(), tc.kind, tc.apiVersion, tc.ref)
			}
			// It is written back as it was read.
			js, err := json.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			var again Object
			if err := json.Unmarshal(js, &again); err != nil || again.Ref() != o.Ref() || again.APIVersion != o.APIVersion {
				t.Errorf("round trip: %v, %s %s", err, again.Ref(), again.APIVersion)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	const cnp = "apiVersion: policy.networking.k8s.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: c}\n"
	const anp = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: a}\n"
	tests := []struct {
		name, doc string
		want      []string // substrings of the errors, in order; none for valid
	}{
		{"valid cnp", cnp + `spec:
  tier: Admin
  priority: 10
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: a}}}}
  ingress: [{action: Deny, from: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {range: {start: 80, end: 81}}}}, {destinationNamedPort: serve-80-tcp}]}]
  egress: [{action: Accept, to: [{networks: [10.0.0.0/8]}, {nodes: {}}], protocols: [{udp: {destinationPort: {number: 53}}}]}]`, nil},
		{"valid anp", anp + `spec:
  priority: 0
  subject: {namespaces: {matchLabels: {ns: x}}}
  egress: [{action: Pass, to: [{pods: {namespaceSelector: {}, podSelector: {}}}], ports: [{namedPort: dns}, {portRange: {start: 1, end: 2}}]}]`, nil},
		{"tier and priority", cnp + "spec: {tier: admin, priority: 1001, subject: {namespaces: {}}}", []string{"spec.tier: Unsupported value", "spec.priority: Invalid value: 1001"}},
		{"subject with both", cnp + "spec: {tier: Admin, priority: 1, subject: {namespaces: {}, pods: {namespaceSelector: {}, podSelector: {}}}}", []string{"spec.subject: Invalid value"}},
		{"no subject", cnp + "spec: {tier: Admin, priority: 1, subject: {}}", []string{"spec.subject: Required value"}},
		{"action of the other generation", cnp + "spec: {tier: Admin, priority: 1, subject: {namespaces: {}}, ingress: [{action: Allow, from: [{namespaces: {}}]}]}", []string{`spec.ingress[0].action: Unsupported value: "Allow"`}},
		{"baseline pass", "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: other}\nspec: {subject: {namespaces: {}}, ingress: [{action: Pass, from: [{namespaces: {}}]}]}", []string{"metadata.name", `spec.ingress[0].action: Unsupported value: "Pass"`}},
		{"empty peers and peer with two fields", cnp + "spec: {tier: Admin, priority: 1, subject: {namespaces: {}}, ingress: [{action: Deny, from: []}], egress: [{action: Deny, to: [{namespaces: {}, networks: [10.0.0.0/8]}]}]}", []string{"spec.ingress[0].from: Required value", "spec.egress[0].to[0]: Invalid value: 2"}},
		{"network with host bits", anp + "spec: {priority: 1, subject: {namespaces: {}}, egress: [{action: Deny, to: [{networks: [10.1.2.3/8]}]}]}", []string{"write 10.0.0.0/8"}},
		{"named port to networks", cnp + "spec: {tier: Admin, priority: 1, subject: {namespaces: {}}, egress: [{action: Deny, to: [{networks: [10.0.0.0/8]}], protocols: [{destinationNamedPort: http}]}]}", []string{"destinationNamedPort: Forbidden"}},
		{"range backwards and protocol without port", cnp + "spec: {tier: Admin, priority: 1, subject: {namespaces: {}}, ingress: [{action: Deny, from: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {range: {start: 90, end: 80}}}}, {udp: {}}]}]}", []string{"range.end: Invalid value: 80", "protocols[1].udp.destinationPort: Required value"}},
		{"domain names", cnp + "spec: {tier: Admin, priority: 1, subject: {namespaces: {}}, egress: [{action: Accept, to: [{domainNames: [kubernetes.io]}]}]}", []string{"domainNames: Forbidden"}},
		{"namespaced", "apiVersion: policy.networking.k8s.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: c, namespace: x}\nspec: {tier: Admin, priority: 1, subject: {namespaces: {}}}", []string{"metadata.namespace: Forbidden"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := decode(t, tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			errs := Validate(o, field.NewPath(""))
			if len(errs) != len(tc.want) {
				t.Fatalf("errors = %v, want %d matching %q", errs, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i], w)
				}
			}
		})
	}
}
