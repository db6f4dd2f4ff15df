package cases

import (
	"strings"
	"testing"
)

func TestDecodePolicies(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     int
		err      string
	}{
		{"a comment-only document holds no policy", "# my policies\n---\n# nothing here\n---\nmetadata: {name: p, namespace: x}\nspec: {podSelector: {}}\n", 1, ""},
		{"a List", "kind: List\nitems:\n- metadata: {name: p, namespace: x}\n  spec: {podSelector: {}}\n", 1, ""},
		{"another kind", "kind: Service\nmetadata: {name: s}\n", 0, `kind "Service" is not a NetworkPolicy`},
		{"a duplicated key", "metadata: {name: p, namespace: x}\nmetadata: {name: q}\nspec: {podSelector: {}}\n", 0, `key "metadata" already set`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodePolicies([]byte(tc.in))
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want %q", err, tc.err)
			case tc.err == "" && (err != nil || len(got) != tc.want):
				t.Errorf("%d policies, %v; want %d", len(got), err, tc.want)
			}
		})
	}
}
