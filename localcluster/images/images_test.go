package images

import (
	"os"
	"path/filepath"
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
	if err := Build(Spec{Ref: Agent, Binary: bin, Path: "/bin/tool", User: "65532:65532"}, out); err != nil {
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
	if err := Build(Spec{Ref: Agent, Binary: bin, Path: "/bin/tool", User: "65532:65532"}, out2); err != nil {
		t.Fatal(err)
	}
	img2, _ := tarball.ImageFromPath(out2, &tag)
	d1, _ := img.Digest()
	d2, _ := img2.Digest()
	if d1 != d2 {
		t.Errorf("digest changed between identical builds: %s vs %s", d1, d2)
	}
}
