package images

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestBuildWritesARunnableNonRootImage(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "tool")
	if err := os.WriteFile(bin, []byte("#!binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "img.tar")
	if err := Build(Binary(Agent, bin, "/bin/tool", "65532:65532"), out); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(Agent)
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatalf("archive does not hold %s: %v", Agent, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != "65532:65532" || len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/bin/tool" || cfg.OS != "linux" {
		t.Errorf("unexpected config %+v", cfg.Config)
	}
	layers, _ := img.Layers()
	if len(layers) != 1 {
		t.Errorf("want 1 layer, got %d", len(layers))
	}
	// Same binary, same image: rebuilds do not pile up image versions.
	out2 := filepath.Join(dir, "img2.tar")
	if err := Build(Binary(Agent, bin, "/bin/tool", "65532:65532"), out2); err != nil {
		t.Fatal(err)
	}
	img2, _ := tarball.ImageFromPath(out2, &tag)
	d1, _ := img.Digest()
	d2, _ := img2.Digest()
	if d1 != d2 {
		t.Errorf("digest changed between identical builds: %s vs %s", d1, d2)
	}
}

// The Dockerfile's final stage and Plugin describe one image; a change to
// either must reach the other.
func TestPluginMatchesDockerfile(t *testing.T) {
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	stages := strings.Split(string(data), "\nFROM ")
	final := stages[len(stages)-1]
	var got []string
	for _, line := range strings.Split(final, "\n") {
		for _, kw := range []string{"COPY ", "USER ", "ENV ", "ENTRYPOINT ", "CMD "} {
			if strings.HasPrefix(line, kw) {
				got = append(got, line)
			}
		}
	}
	s := Plugin("example/netpol-conformance:test", "/out")
	quoted := func(args []string) string { return `["` + strings.Join(args, `", "`) + `"]` }
	var copied []string
	for _, f := range s.Files {
		if path.Dir(f.Path) != "/" {
			t.Fatalf("%s: the Dockerfile copies into /", f.Path)
		}
		copied = append(copied, f.Source)
	}
	want := []string{
		"COPY --from=build " + strings.Join(copied, " ") + " /",
		"USER " + s.User,
		"ENV " + strings.Join(s.Env, " "),
		"ENTRYPOINT " + quoted(s.Entrypoint),
		"CMD " + quoted(s.Cmd),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the Dockerfile's final stage:\n%s\nlocalcluster/images.Plugin builds:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
