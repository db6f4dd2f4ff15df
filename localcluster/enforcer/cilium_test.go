package enforcer

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/netpol-conformance/netpol-conformance/localcluster/gobuild"
)

func TestCiliumConflist(t *testing.T) {
	env := Env{StateDir: "/state", Builder: &gobuild.Builder{BinDir: "/bin"}}
	raw, err := Cilium{}.CNIConflist(env)
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Plugins []map[string]any `json:"plugins"`
	}
	if err := json.Unmarshal(raw, &conf); err != nil {
		t.Fatal(err)
	}
	if len(conf.Plugins) != 2 || conf.Plugins[0]["type"] != ciliumCNI || conf.Plugins[1]["type"] != "portmap" {
		t.Fatalf("plugins = %v, want cilium-cni then portmap", conf.Plugins)
	}
	if got := (Cilium{}).CNIPlugins(env)[ciliumCNI]; got != "/bin/cilium-cni" {
		t.Errorf("CNIPlugins[cilium-cni] = %q", got)
	}
}

// The agent's flags keep it off the uplink and off every feature that
// would reach beyond the machine or replace kube-proxy.
func TestCiliumAgentFlags(t *testing.T) {
	env := Env{StateDir: "/state", Kubeconfig: "/kc", NodeName: "n", ClusterCIDR: "10.244.0.0/16",
		Builder: &gobuild.Builder{BinDir: "/bin", SrcDir: "/src"}}
	ps := Cilium{}.Processes(env)
	if len(ps) != 1 {
		t.Fatalf("%d processes, want 1", len(ps))
	}
	args := " " + strings.Join(ps[0].Args, " ") + " "
	for _, want := range []string{
		"--routing-mode=native", "--kube-proxy-replacement=false", "--devices=netpol-none",
		"--enable-ipv4-masquerade=false", "--enable-l7-proxy=false", "--enable-hubble=false",
		"--identity-allocation-mode=crd", "--ipam=kubernetes", "--lib-dir=/src/cilium@v1.20.2",
		"--bpf-root=/state/cilium/nodes/n/bpffs", "--state-dir=/state/cilium/nodes/n/state", "--enable-health-checking=false",
	} {
		if !strings.Contains(args, " "+want+" ") {
			t.Errorf("agent args lack %s: %s", want, args)
		}
	}
	if !strings.HasPrefix(strings.Join(ps[0].Env, " "), "PATH="+ciliumLLVMPath+":") {
		t.Errorf("agent env %v does not put clang-19 first on PATH", ps[0].Env)
	}
}

func TestCiliumAgentRoleFromModule(t *testing.T) {
	dir, err := (&gobuild.Builder{}).ModuleDir(context.Background(), ciliumModule, ciliumVersion, "GOPROXY=off")
	if err != nil {
		t.Skipf("%s@%s is not in the module cache: %v", ciliumModule, ciliumVersion, err)
	}
	tmpl, err := os.ReadFile(filepath.Join(dir, ciliumAgentRoleTemplate))
	if err != nil {
		t.Fatal(err)
	}
	role, err := ciliumAgentRoleObject(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
	var canCreate bool
	for _, r := range rules {
		m := r.(map[string]any)
		res, verbs := strings.Join(toStrings(m["resources"]), ","), strings.Join(toStrings(m["verbs"]), ",")
		if strings.Contains(res, "ciliumidentities") && strings.Contains(verbs, "create") {
			canCreate = true
		}
	}
	if !canCreate {
		t.Errorf("the agent's role cannot create ciliumidentities: %v", rules)
	}
}

func toStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		out = append(out, x.(string))
	}
	return out
}
