package images

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// VerifyPlugin is what `local build-image` trusts to say the Dockerfile
// built the plugin image: it must pass the image Plugin describes and name
// each way an image can differ from it.
func TestVerifyPlugin(t *testing.T) {
	dir := t.TempDir()
	// A static ELF executable for this machine's architecture, as the
	// Dockerfile builds them.
	static := filepath.Join(dir, "static")
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", static, filepath.Join(dir, "main.go"))
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GO111MODULE=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building a static binary: %v: %s", err, out)
	}
	for _, n := range []string{"netpol-conformance", "netpol-agent", "netpol-suite"} {
		if err := os.Symlink(static, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	// The test binary itself links the C library when cgo is on.
	dynamic, _ := os.Executable()
	if f, err := elf.Open(dynamic); err != nil || !slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
		dynamic = ""
	}
	script := filepath.Join(dir, "script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	other := map[string]string{"amd64": "arm64", "arm64": "amd64"}[runtime.GOARCH]
	if other == "" {
		t.Skipf("the plugin image is built for amd64 and arm64, not %s", runtime.GOARCH)
	}
	const ref = "localhost/netpol-conformance:test"
	want := Plugin(ref, "")
	for _, tc := range []struct {
		name    string
		edit    func(*Spec)
		arch    string
		wantErr string
	}{
		{name: "the plugin image", arch: runtime.GOARCH},
		{name: "built for the other architecture", arch: other, wantErr: "platform linux/" + runtime.GOARCH + ", want linux/" + other},
		{name: "runs as root", edit: func(s *Spec) { s.User = "" }, arch: runtime.GOARCH, wantErr: `user "", want "65532:65532"`},
		{name: "a file missing", edit: func(s *Spec) { s.Files = s.Files[:2] }, arch: runtime.GOARCH, wantErr: "files"},
		{name: "a file not an executable", edit: func(s *Spec) { s.Files[1].Source = script }, arch: runtime.GOARCH, wantErr: "/netpol-agent is not an ELF executable"},
		{name: "another entrypoint", edit: func(s *Spec) { s.Entrypoint = []string{"/netpol-suite"} }, arch: runtime.GOARCH, wantErr: "entrypoint"},
		{name: "no HOME", edit: func(s *Spec) { s.Env = nil }, arch: runtime.GOARCH, wantErr: "lacks HOME=/tmp"},
		{name: "a dynamically linked binary", edit: func(s *Spec) { s.Files[2].Source = dynamic }, arch: runtime.GOARCH, wantErr: "/netpol-suite is dynamically linked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "a dynamically linked binary" && dynamic == "" {
				t.Skip("the test binary is static (cgo off): no dynamic binary at hand")
			}
			s := Plugin(ref, dir)
			s.Files = append([]File(nil), s.Files...)
			if tc.edit != nil {
				tc.edit(&s)
			}
			archive := filepath.Join(t.TempDir(), "img.tar")
			if err := Build(s, archive); err != nil {
				t.Fatal(err)
			}
			// Build labels the image with the machine's architecture; the
			// binaries decide "built for the other architecture".
			err := VerifyPlugin(archive, want, tc.arch)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("VerifyPlugin: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("VerifyPlugin passed, want an error with %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("VerifyPlugin: %v, want %q in it", err, tc.wantErr)
			}
		})
	}
}

func TestRemoveIfOnly(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   []string
		removed bool
	}{
		{name: "only the lock", files: []string{"net.d/cni.lock"}, removed: true},
		{name: "empty", removed: true},
		{name: "someone's network too", files: []string{"net.d/cni.lock", "net.d/87-podman.conflist"}},
		{name: "another file", files: []string{"net.d/10-mine.conf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cni")
			if err := os.MkdirAll(filepath.Join(dir, "net.d"), 0o700); err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var log strings.Builder
			removeIfOnly(dir, "net.d/cni.lock", &log)
			_, err := os.Stat(dir)
			if gone := os.IsNotExist(err); gone != tc.removed {
				t.Errorf("removed = %v, want %v (log: %s)", gone, tc.removed, log.String())
			}
		})
	}
}
