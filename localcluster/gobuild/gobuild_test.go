package gobuild

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersionLDFlags(t *testing.T) {
	got := VersionLDFlags("v1.34.2")
	for _, want := range []string{
		"-X k8s.io/component-base/version.gitVersion=v1.34.2",
		"-X k8s.io/client-go/pkg/version.gitVersion=v1.34.2",
		"-X k8s.io/component-base/version.gitMajor=1",
		"-X k8s.io/component-base/version.gitMinor=34",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ldflags %q lack %q", got, want)
		}
	}
}

func TestApplyPatch(t *testing.T) {
	const diff = `a header line, ignored like git's own
diff --git a/f.txt b/f.txt
--- a/f.txt
+++ b/f.txt
@@ -1,3 +1,3 @@
 one
-two
+zwei
 three
`
	tests := []struct {
		name    string
		content string
		dryRun  bool
		want    string // the file afterwards
		wantErr bool
	}{
		{name: "applies", content: "one\ntwo\nthree\n", want: "one\nzwei\nthree\n"},
		{name: "dry run writes nothing", content: "one\ntwo\nthree\n", dryRun: true, want: "one\ntwo\nthree\n"},
		{name: "no fuzz on a changed context", content: "one\ntwo\n3\n", wantErr: true, want: "one\ntwo\n3\n"},
		{name: "already applied is refused", content: "one\nzwei\nthree\n", wantErr: true, want: "one\nzwei\nthree\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f.txt")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			err := ApplyPatch(context.Background(), dir, []byte(diff), tt.dryRun)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ApplyPatch: err = %v, wantErr %v", err, tt.wantErr)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("file = %q, want %q", got, tt.want)
			}
			if leftovers, _ := filepath.Glob(filepath.Join(dir, "*.*.*")); len(leftovers) > 0 {
				t.Errorf("patch left %v behind", leftovers)
			}
		})
	}
}

func TestModuleBuildStamp(t *testing.T) {
	one := ModuleBuild{Module: "example.com/m", Version: "v1.0.0", Package: "./cmd/a", Name: "a", LDFlags: "-X v=1", PatchID: "p"}
	// Stamps written before Extra existed stay valid: no rebuild.
	if got, want := one.stamp(), "example.com/m@v1.0.0 p -X v=1\n"; got != want {
		t.Errorf("stamp = %q, want %q", got, want)
	}
	two := one
	two.Extra = []Binary{{Package: "./cmd/b", Name: "b"}}
	if two.stamp() == one.stamp() || !strings.Contains(two.stamp(), "./cmd/b=b") {
		t.Errorf("stamp %q does not name the extra binary", two.stamp())
	}
}

func TestFreshNeedsEveryBinary(t *testing.T) {
	dir := t.TempDir()
	b := &Builder{BinDir: dir}
	stamp := filepath.Join(dir, "a.stamp")
	for name, content := range map[string]string{"a": "x", "a.stamp": "want"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !b.fresh(stamp, "want", "a") {
		t.Error("a with its stamp is not fresh")
	}
	if b.fresh(stamp, "want", "a", "b") {
		t.Error("fresh although b is missing")
	}
	if b.fresh(stamp, "other", "a") {
		t.Error("fresh although the stamp differs")
	}
}
