package cases

import (
	"strings"
	"testing"
)

func TestDecodePolicies(t *testing.T) {
	for _, tc := range []struct {
		name, in      string
		want, cluster int
		err           string
	}{
		{"a comment-only document holds no policy", "# my policies\n---\n# nothing here\n---\nmetadata: {name: p, namespace: x}\nspec: {podSelector: {}}\n", 1, 0, ""},
		{"a List", "kind: List\nitems:\n- metadata: {name: p, namespace: x}\n  spec: {podSelector: {}}\n", 1, 0, ""},
		{"a List of both kinds", "kind: List\nitems:\n- metadata: {name: p, namespace: x}\n  spec: {podSelector: {}}\n- {apiVersion: policy.networking.k8s.io/v1beta1, kind: ClusterNetworkPolicy, metadata: {name: c}, spec: {tier: Admin, priority: 1, subject: {namespaces: {}}}}\n", 1, 1, ""},
		{"cluster-wide policies", "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: a}\nspec: {priority: 1, subject: {namespaces: {}}}\n---\napiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec: {subject: {namespaces: {}}}\n", 0, 2, ""},
		{"a misspelt field of a cluster-wide policy", "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: c}\nspec: {tier: Admin, priority: 1, subject: {namespace: {}}}\n", 0, 0, `unknown field "spec.subject.namespace"`},
		{"another kind", "kind: Service\nmetadata: {name: s}\n", 0, 0, `kind "Service" is not a policy`},
		{"a duplicated key", "metadata: {name: p, namespace: x}\nmetadata: {name: q}\nspec: {podSelector: {}}\n", 0, 0, `key "metadata" already set`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, cluster, err := decodePolicies([]byte(tc.in))
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want %q", err, tc.err)
			case tc.err == "" && (err != nil || len(got) != tc.want || len(cluster) != tc.cluster):
				t.Errorf("%d policies, %d cluster-wide, %v; want %d, %d", len(got), len(cluster), err, tc.want, tc.cluster)
			}
		})
	}
}
