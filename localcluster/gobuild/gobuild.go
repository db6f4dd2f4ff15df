// Package gobuild builds the local cluster's binaries: the Kubernetes
// components from the k8s.io/kubernetes version our go.mod pins, our own
// static binaries, and third-party enforcers from their own module
// directory (never through our go.mod, whose Kubernetes versions they would
// bump). Results are cached in the bin directory with a stamp per build.
package gobuild

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// KubernetesComponents are built from k8s.io/kubernetes/cmd/<name>.
var KubernetesComponents = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"}

// Builder builds into BinDir, logging go's output to Log.
type Builder struct {
	// RepoRoot is the directory of our go.mod.
	RepoRoot string
	BinDir   string
	// SrcDir receives copies of third-party module sources.
	SrcDir string
	Log    io.Writer
}

// env is the build environment: GOSUMDB is off because the checksum
// database is unreachable here (docs/local-cluster.md, "no checksum
// database"); module sums come from go.sum.
func (b *Builder) env(extra ...string) []string {
	env := append(os.Environ(), "GOSUMDB=off", "GOWORK=off", "GOFLAGS=")
	return append(env, extra...)
}

func (b *Builder) goCmd(ctx context.Context, dir string, extraEnv []string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = b.env(extraEnv...)
	cmd.Stdout, cmd.Stderr = b.Log, b.Log
	fmt.Fprintf(b.Log, "+ (cd %s && go %s)\n", dir, strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s in %s: %w", args[0], dir, err)
	}
	return nil
}

// KubernetesVersion is the k8s.io/kubernetes version our go.mod pins.
func (b *Builder) KubernetesVersion(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Version}}", "k8s.io/kubernetes")
	cmd.Dir = b.RepoRoot
	cmd.Env = b.env()
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("reading the pinned k8s.io/kubernetes version: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// VersionLDFlags sets the version variables that a build outside the
// Kubernetes tree leaves empty (binaries would report v0.0.0).
func VersionLDFlags(version string) string {
	major, minor := "", ""
	if parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3); len(parts) >= 2 {
		major, minor = parts[0], parts[1]
	}
	var flags []string
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		flags = append(flags,
			"-X "+pkg+".gitVersion="+version,
			"-X "+pkg+".gitMajor="+major,
			"-X "+pkg+".gitMinor="+minor,
			"-X "+pkg+".gitTreeState=clean")
	}
	return "-s -w " + strings.Join(flags, " ")
}

// Kubernetes builds the components unless all of them exist with a stamp for
// the same version and flags. It reports whether it built.
func (b *Builder) Kubernetes(ctx context.Context) (bool, error) {
	version, err := b.KubernetesVersion(ctx)
	if err != nil {
		return false, err
	}
	ldflags := VersionLDFlags(version)
	stamp := filepath.Join(b.BinDir, ".kubernetes.stamp")
	want := version + "\n" + ldflags + "\n"
	if b.fresh(stamp, want, KubernetesComponents...) {
		return false, nil
	}
	args := []string{"build", "-trimpath", "-ldflags", ldflags, "-o", b.BinDir + "/"}
	for _, c := range KubernetesComponents {
		args = append(args, "k8s.io/kubernetes/cmd/"+c)
	}
	if err := os.MkdirAll(b.BinDir, 0o755); err != nil {
		return false, fmt.Errorf("creating %s: %w", b.BinDir, err)
	}
	if err := b.goCmd(ctx, b.RepoRoot, nil, args...); err != nil {
		return false, fmt.Errorf("building Kubernetes %s: %w", version, err)
	}
	return true, os.WriteFile(stamp, []byte(want), 0o644)
}

// Static builds a package of our module as a static binary (for images).
func (b *Builder) Static(ctx context.Context, pkg, name string) (string, error) {
	out := filepath.Join(b.BinDir, name)
	if err := b.goCmd(ctx, b.RepoRoot, []string{"CGO_ENABLED=0"}, "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg); err != nil {
		return "", fmt.Errorf("building %s: %w", pkg, err)
	}
	return out, nil
}

// StaticTo runs `go <verb> [args...] -o out` in our module as a static,
// stripped build: verb is "build", or "test" with "-c" to compile a test
// binary (the suite).
func (b *Builder) StaticTo(ctx context.Context, out, verb string, args ...string) error {
	return b.StaticToWith(ctx, "", out, verb, args...)
}

// StaticToWith is StaticTo with more linker flags (e.g. -X settings).
func (b *Builder) StaticToWith(ctx context.Context, ldflags, out, verb string, args ...string) error {
	all := append([]string{verb, "-trimpath", "-ldflags", strings.TrimSpace("-s -w " + ldflags), "-o", out}, args...)
	if err := b.goCmd(ctx, b.RepoRoot, []string{"CGO_ENABLED=0"}, all...); err != nil {
		return fmt.Errorf("building %s: %w", out, err)
	}
	return nil
}

// ModuleBuild describes a binary built from a third-party module.
type ModuleBuild struct {
	Module, Version string
	// Package is relative to the module root, e.g. "./cmd/kube-router".
	Package string
	Name    string
	// Extra are further binaries built from the same prepared copy with
	// the same flags (Calico's Felix and CNI plugin share one module).
	Extra   []Binary
	LDFlags string
	// Patch, when set, edits the pristine module copy before the build;
	// PatchID names it in the stamp so a changed patch rebuilds.
	Patch   func(dir string) error
	PatchID string
}

// Binary is one package of a module and the name of its binary in BinDir.
type Binary struct {
	// Package is relative to the module root, e.g. "./cni-plugin/cmd/calico".
	Package string
	Name    string
}

// stamp is what Module records next to the first binary: the same
// module, version, patch, flags and binaries reuse the build.
func (m ModuleBuild) stamp() string {
	s := m.Module + "@" + m.Version + " " + m.PatchID + " " + m.LDFlags
	for _, e := range m.Extra {
		s += " +" + e.Package + "=" + e.Name
	}
	return s + "\n"
}

// Module copies the module's source out of the module cache (read-only
// there) and builds in the copy, as its own main module with its own go.sum.
func (b *Builder) Module(ctx context.Context, m ModuleBuild) (string, error) {
	out := filepath.Join(b.BinDir, m.Name)
	stamp := out + ".stamp"
	want := m.stamp()
	bins := append([]Binary{{Package: m.Package, Name: m.Name}}, m.Extra...)
	names := make([]string, len(bins))
	for i, bin := range bins {
		names[i] = bin.Name
	}
	if b.fresh(stamp, want, names...) {
		return out, nil
	}
	src := filepath.Join(b.SrcDir, filepath.Base(m.Module)+"@"+m.Version)
	if err := b.CopyModule(ctx, m.Module, m.Version, src); err != nil {
		return "", err
	}
	if m.Patch != nil {
		if err := m.Patch(src); err != nil {
			return "", fmt.Errorf("patching %s: %w", m.Module, err)
		}
	}
	if err := os.MkdirAll(b.BinDir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", b.BinDir, err)
	}
	for _, bin := range bins {
		args := []string{"build", "-trimpath", "-mod=mod", "-ldflags", "-s -w " + m.LDFlags, "-o", filepath.Join(b.BinDir, bin.Name), bin.Package}
		if err := b.goCmd(ctx, src, []string{"CGO_ENABLED=0"}, args...); err != nil {
			return "", fmt.Errorf("building %s of %s@%s: %w", bin.Package, m.Module, m.Version, err)
		}
	}
	return out, os.WriteFile(stamp, []byte(want), 0o644)
}

// CopyModule copies module@version out of the module cache (downloading it
// first when needed) to dst, replacing whatever dst held, and makes the
// copy writable: the cache is read-only.
func (b *Builder) CopyModule(ctx context.Context, module, version, dst string) error {
	dir, err := b.ModuleDir(ctx, module, version)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dst); err != nil {
		return fmt.Errorf("clearing %s: %w", dst, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(dst), err)
	}
	for _, c := range [][]string{{"cp", "-a", dir, dst}, {"chmod", "-R", "u+w", dst}} {
		if out, err := exec.CommandContext(ctx, c[0], c[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(c, " "), err, out)
		}
	}
	return nil
}

// ModuleDir downloads module@version into the module cache unless it is
// there and returns its directory, which is read-only. extraEnv is added to
// the build environment (GOPROXY=off keeps it to the cache).
func (b *Builder) ModuleDir(ctx context.Context, module, version string, extraEnv ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = os.TempDir()
	cmd.Env = b.env(extraEnv...)
	// -json reports failures in its output as well as in the exit status.
	raw, runErr := cmd.Output()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(raw, &info); err != nil && runErr == nil {
		return "", fmt.Errorf("downloading %s@%s: decoding go's answer: %w", module, version, err)
	}
	switch {
	case info.Error != "":
		return "", fmt.Errorf("downloading %s@%s: %s", module, version, info.Error)
	case runErr != nil:
		return "", fmt.Errorf("downloading %s@%s: %w", module, version, runErr)
	case info.Dir == "":
		return "", fmt.Errorf("downloading %s@%s: go reported no directory", module, version)
	}
	return info.Dir, nil
}

// fresh reports whether every named binary exists and stamp holds want.
func (b *Builder) fresh(stamp, want string, names ...string) bool {
	got, err := os.ReadFile(stamp)
	if err != nil || string(got) != want {
		return false
	}
	for _, n := range names {
		if fi, err := os.Stat(filepath.Join(b.BinDir, n)); err != nil || fi.Size() == 0 {
			return false
		}
	}
	return true
}

// ApplyPatch applies diff, a unified diff with a/ and b/ prefixes (as `git
// diff` writes it), to the source tree in dir with patch(1). Fuzz is off:
// a patch is written for one pinned version and must match it exactly. With
// dryRun nothing is written, so it can check the read-only module cache.
// No .rej or .orig files are left; a failed patch may leave dir partly
// patched, which is why Module patches a fresh copy on every build.
func ApplyPatch(ctx context.Context, dir string, diff []byte, dryRun bool) error {
	args := []string{"-p1", "--batch", "--forward", "--fuzz=0", "--no-backup-if-mismatch", "--reject-file=-", "-d", dir}
	if dryRun {
		args = append(args, "--dry-run")
	}
	cmd := exec.CommandContext(ctx, "patch", args...)
	cmd.Stdin = bytes.NewReader(diff)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("patch %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
