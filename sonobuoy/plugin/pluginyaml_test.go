package plugin

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite testdata/sonobuoy-gen.golden.yaml from the sonobuoy binary's output")

// pluginYAML is the plugin definition users pass to `sonobuoy run --plugin`.
const pluginYAML = "../../plugin.yaml"

// definition is the part of Sonobuoy's plugin manifest this package must
// agree with.
type definition struct {
	SonobuoyConfig struct {
		Driver       string   `json:"driver"`
		PluginName   string   `json:"plugin-name"`
		ResultFormat string   `json:"result-format"`
		ResultFiles  []string `json:"result-files"`
	} `json:"sonobuoy-config"`
	Spec      corev1.Container  `json:"spec"`
	PodSpec   corev1.PodSpec    `json:"podSpec"`
	ConfigMap map[string]string `json:"config-map"`
}

// The entrypoint and plugin.yaml must name the same files, directories and
// knobs; this needs no sonobuoy binary.
func TestPluginYAMLMatchesTheEntrypoint(t *testing.T) {
	data, err := os.ReadFile(pluginYAML)
	if err != nil {
		t.Fatal(err)
	}
	var d definition
	// Lenient on purpose: we model a subset; the golden test below checks
	// the whole file against what Sonobuoy makes of it.
	if err := yaml.Unmarshal(data, &d); err != nil {
		t.Fatalf("decoding %s: %v", pluginYAML, err)
	}
	sc := d.SonobuoyConfig
	if sc.Driver != "Job" || sc.ResultFormat != "junit" || len(sc.ResultFiles) != 1 || sc.ResultFiles[0] != JUnitFile {
		t.Errorf("sonobuoy-config: driver %q, result-format %q, result-files %q; want Job, junit, [%s]", sc.Driver, sc.ResultFormat, sc.ResultFiles, JUnitFile)
	}
	if d.Spec.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("imagePullPolicy %q: the image is loaded into the node, never pulled", d.Spec.ImagePullPolicy)
	}
	if got := strings.Join(append(d.Spec.Command, d.Spec.Args...), " "); got != "/netpol-conformance plugin run" {
		t.Errorf("the container runs %q, want the entrypoint /netpol-conformance plugin run", got)
	}
	// A deleted plugin pod must outlive the suite's stop and the cleanup.
	need := int64((DefaultStopGrace + cleanupTimeout + 30*time.Second).Seconds())
	if g := d.PodSpec.TerminationGracePeriodSeconds; g == nil || *g < need {
		t.Errorf("podSpec.terminationGracePeriodSeconds %v: want at least %d (stop grace, cleanup, and the results)", g, need)
	}
	if d.PodSpec.ServiceAccountName != "sonobuoy-serviceaccount" || d.PodSpec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("podSpec replaces Sonobuoy's default and must keep its service account and restart policy: %+v", d.PodSpec)
	}
	mounts := map[string]string{}
	for _, m := range d.Spec.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if mounts[DefaultResultsDir] != "results" {
		t.Errorf("the results volume Sonobuoy's worker reads is not mounted at %s: %v", DefaultResultsDir, mounts)
	}
	env := map[string]string{}
	for _, e := range d.Spec.Env {
		env[e.Name] = e.Value
	}
	docs, err := os.ReadFile("../../docs/sonobuoy.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Knobs {
		if _, ok := env[k.Env]; !ok {
			t.Errorf("knob %s is not listed in the plugin's env", k.Env)
		}
		if !strings.Contains(string(data), "#   "+k.Env+" ") {
			t.Errorf("knob %s is not described in plugin.yaml's header", k.Env)
		}
		if !strings.Contains(string(docs), "| `"+k.Env+"` |") {
			t.Errorf("knob %s is not in docs/sonobuoy.md's table", k.Env)
		}
	}
	// The agent pods run the plugin's own image unless told otherwise, so
	// one --plugin-image is all a user names.
	if env[EnvAgentImage] != "" {
		t.Errorf("%s=%q: leave it empty, so the agents run the plugin pod's own image", EnvAgentImage, env[EnvAgentImage])
	}
	if _, err := ConfigFromEnv(func(k string) string { return env[k] }); err != nil {
		t.Errorf("plugin.yaml's env is not a valid configuration: %v", err)
	}
	for k := range d.ConfigMap {
		if ext := filepath.Ext(k); ext == ".yaml" || ext == ".yml" {
			t.Errorf("config-map key %s would run as an extra case family for every user", k)
		}
	}
}

// TestSonobuoyGenGolden renders plugin.yaml with the pinned sonobuoy binary
// and compares it with the golden: a field Sonobuoy ignores or renames, or a
// mount it moves, shows up here without a cluster.
func TestSonobuoyGenGolden(t *testing.T) {
	bin := os.Getenv("NETPOL_SONOBUOY")
	if bin == "" {
		bin = "../../_output/bin/sonobuoy"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no sonobuoy binary at %s (%v): build it with `netpol-conformance local build-sonobuoy` (CI does) or set NETPOL_SONOBUOY", bin, err)
	}
	// A fixed Kubernetes version keeps gen from asking a cluster for one;
	// an empty KUBECONFIG and HOME keep it from finding one.
	home := t.TempDir()
	cmd := exec.Command(bin, "gen", "--plugin", pluginYAML, "--kubernetes-version", "v1.34.2")
	cmd.Env = []string{"HOME=" + home, "KUBECONFIG=" + filepath.Join(home, "none"), "PATH=" + os.Getenv("PATH")}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("sonobuoy gen: %v\n%s", err, stderr.String())
	}
	golden := filepath.Join("testdata", "sonobuoy-gen.golden.yaml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("sonobuoy gen -p plugin.yaml differs from %s (a different sonobuoy version, or plugin.yaml changed: rerun with -update and review the diff)\n%s",
			golden, lineDiff(string(want), string(got)))
	}
}

// lineDiff lists the lines that differ, position by position; enough to
// point at a changed field in a small manifest.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n- %s\n+ %s\n", i+1, wl, gl)
		}
	}
	return b.String()
}
