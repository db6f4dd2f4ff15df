package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := NewRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A user's own policies on a user's own topology, end to end: the README's
// "check your own policies" path.
const userTopology = `
namespaces:
- name: shop
  labels: {team: web}
  pods:
  - {name: web, ip: 10.1.0.4, labels: {app: web}}
  - {name: db, ip: 10.1.0.5, labels: {app: db}, ports: [{name: pg, containerPort: 5432}]}
externals: [{name: internet, ip: 203.0.113.9}]
matrix: [shop/web, shop/db, internet]
`

const userPolicies = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: pg}]
`

func TestExpectUserPolicies(t *testing.T) {
	topo := writeFile(t, "topo.yaml", userTopology)
	pol := writeFile(t, "pol.yaml", userPolicies)
	out, err := run(t, "expect", "-f", pol, "--topology", topo)
	if err != nil {
		t.Fatalf("expect: %v\n%s", err, out)
	}
	want := `5432/TCP
-        shop/web shop/db  internet
shop/web .        .        .
shop/db  .        .        .
internet .        X        .
`
	if !strings.Contains(out, want) {
		t.Errorf("expect output lacks the table:\n%s\nwant:\n%s", out, want)
	}

	out, err = run(t, "expect", "-f", pol, "--topology", topo, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var doc expectOutput
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("json output does not decode: %v\n%s", err, out)
	}
	if doc.SchemaVersion != expectSchemaVersion || len(doc.Cases) != 1 || doc.Cases[0].Stages[0].Tables[0].Grid[2] != ".X." {
		t.Errorf("unexpected json: %s", out)
	}

	out, err = run(t, "explain", "shop/web", "shop/db", "5432/TCP", "-f", pol, "--topology", topo)
	if err != nil || !strings.Contains(out, "allowed by shop/db-from-web ingress[0] from[0] ports[0]") {
		t.Errorf("explain: %v\n%s", err, out)
	}
}

func TestExpectBuiltinCase(t *testing.T) {
	out, err := run(t, "expect", "deny-all-ingress-in-x", "--port", "80", "--protocol", "udp")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "80/UDP\n-   x/a x/b x/c") || strings.Contains(out, "TCP\n") {
		t.Errorf("unexpected output:\n%s", out)
	}
	if !strings.Contains(out, "implementation-defined (reported, never a failure): the diagonal (loopback)") {
		t.Errorf("loopback cells are not reported as implementation-defined:\n%s", out)
	}
}

func TestCommandErrors(t *testing.T) {
	bad := writeFile(t, "bad.yaml", "kind: Service\nmetadata: {name: s}\n")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"expect", "no-such-case"}, `no case named "no-such-case"`},
		{[]string{"expect"}, "name at least one case"},
		{[]string{"expect", "-f", bad}, `kind "Service" is not a policy`},
		{[]string{"explain", "x/a", "x/b", "80/ICMP", "--case", "deny-all-ingress-in-x"}, `protocol "ICMP"`},
		{[]string{"explain", "x/a", "q/b", "80", "--case", "deny-all-ingress-in-x"}, `unknown destination "q/b"`},
		{[]string{"list", "-o", "yaml"}, `--output "yaml"`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, err := run(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q\n%s", err, tc.want, out)
			}
		})
	}
}

func TestListFiltersByTag(t *testing.T) {
	out, err := run(t, "list", "--tag", "default-deny", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil || len(entries) == 0 {
		t.Fatalf("list --tag default-deny: %v\n%s", err, out)
	}
}

func TestListTakesTheTagExpression(t *testing.T) {
	out, err := run(t, "list", "--tags", "ipblock && except && !egress", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil || len(entries) == 0 {
		t.Fatalf("list --tags: %v\n%s", err, out)
	}
	for _, e := range entries {
		if !slices.Contains(e.Tags, "except") || slices.Contains(e.Tags, "egress") {
			t.Errorf("%s %v is not ipblock && except && !egress", e.Name, e.Tags)
		}
	}
	if _, err := run(t, "list", "--tags", "(("); err == nil || strings.Contains(err.Error(), "{{") || !strings.Contains(err.Error(), "Mismatched") {
		t.Errorf("a bad expression: %v", err)
	}
}

func TestCompletion(t *testing.T) {
	out, err := run(t, "__complete", "expect", "deny-all-e")
	if err != nil || !strings.Contains(out, "deny-all-egress-in-x\tdefault-deny") || !strings.Contains(out, "deny-all-everywhere") {
		t.Errorf("case names: %v\n%s", err, out)
	}
	out, err = run(t, "__complete", "list", "--tag", "ipb")
	if err != nil || !strings.HasPrefix(out, "ipblock\n") {
		t.Errorf("tags: %v\n%s", err, out)
	}
}

func TestCompareAndDiffRecordedRuns(t *testing.T) {
	knp, kr := "../../results/testdata/kube-network-policies.tar.gz", "../../results/testdata/kube-router.xml"
	out, err := run(t, "compare", knp, kr)
	if err != nil || !strings.Contains(out, "| kube-router | — | — | — | 94 | 0 | 2 | 5 | 0 | 0 |") {
		t.Errorf("compare: %v\n%s", err, out)
	}
	// The three outputs at once, each a whole file.
	dir := t.TempDir()
	md, page, junit := filepath.Join(dir, "c.md"), filepath.Join(dir, "c.html"), filepath.Join(dir, "c.xml")
	if out, err := run(t, "compare", "--markdown", md, "--html", page, "--junit", junit, "--title", "two engines", knp, kr); err != nil {
		t.Fatalf("compare to files: %v\n%s", err, out)
	}
	for path, want := range map[string]string{
		md:    "## Where the runs disagree (5 cases)",
		page:  "<title>two engines</title>",
		junit: `failures="5"`,
	} {
		data, err := os.ReadFile(path)
		if err != nil || !strings.Contains(string(data), want) {
			t.Errorf("%s lacks %q: %v", filepath.Base(path), want, err)
		}
	}
	if data, _ := os.ReadFile(page); !strings.Contains(string(data), "truth tables the spec requires") || !strings.Contains(string(data), "x/a x/b x/c") {
		t.Error("the HTML page does not show the truth tables the model computes")
	}
	if out, err := run(t, "diff", knp, kr); !errors.Is(err, errRegressed) || !strings.Contains(out, "NEW FAILURES (5)") {
		t.Errorf("diff to a worse run: err=%v\n%s", err, out)
	}
	if out, err := run(t, "diff", kr, knp); err != nil || !strings.Contains(out, "fixed (5)") {
		t.Errorf("diff to a better run: err=%v\n%s", err, out)
	}
	empty := writeFile(t, "empty.xml", `<testsuites><testsuite tests="0"></testsuite></testsuites>`)
	if _, err := run(t, "compare", knp, empty); err == nil || !strings.Contains(err.Error(), "holds no testcase") {
		t.Errorf("compare with an empty JUnit: %v", err)
	}
}

// TestDocsComparisonIsCurrent regenerates the example users see first,
// docs/comparison.{md,html}, from the recorded runs in docs/runs: a change
// to the report that is not reflected there fails here.
func TestDocsComparisonIsCurrent(t *testing.T) {
	const title = "NetworkPolicy conformance on the local cluster: every enforcer on one node, and on two"
	dir := t.TempDir()
	md, page := filepath.Join(dir, "c.md"), filepath.Join(dir, "c.html")
	args := []string{"compare", "--markdown", md, "--html", page, "--title", title}
	for _, e := range []string{"calico", "cilium", "kube-network-policies", "kube-router", "none", "calico-2nodes", "cilium-2nodes", "kube-network-policies-2nodes", "kube-router-2nodes", "none-2nodes", "kube-network-policies-cnp-2nodes"} {
		args = append(args, "../../docs/runs/"+e+".tar.gz")
	}
	// The page names each run's source as given: give it as the docs do.
	t.Chdir("../..")
	for i := range args {
		args[i] = strings.TrimPrefix(args[i], "../../")
	}
	if out, err := run(t, args...); err != nil {
		t.Fatalf("compare: %v\n%s", err, out)
	}
	for got, want := range map[string]string{md: "docs/comparison.md", page: "docs/comparison.html"} {
		g, err := os.ReadFile(got)
		if err != nil {
			t.Fatal(err)
		}
		w, err := os.ReadFile(want)
		if err != nil {
			t.Fatal(err)
		}
		// The committed Markdown starts with a comment saying how it was made.
		if _, body, ok := strings.Cut(string(w), "-->\n\n"); ok && strings.HasSuffix(want, ".md") {
			w = []byte(body)
		}
		if string(g) != string(w) {
			t.Errorf("%s is stale: regenerate it with the command in its header comment", want)
		}
	}
}
