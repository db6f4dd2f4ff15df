package images

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Dockerfile builds the repository's Dockerfile as a user's `docker build`
// does, with buildah (no Docker engine exists here), from a Go builder image
// assembled from this machine's own Go toolchain (no registry exists here
// to pull golang:1.26 from), and writes the result as a docker-archive.
type Dockerfile struct {
	// Context is the build context, the repository root holding the Dockerfile.
	Context string
	// Platform is the target, "linux/amd64" or "linux/arm64".
	Platform string
	// Ref names the image built; Version is the Dockerfile's VERSION.
	Ref, Version string
	// Archive receives the docker-archive.
	Archive string
	// Log receives buildah's output.
	Log io.Writer
}

// PlatformArch returns the architecture of a platform the plugin image is
// built for, "linux/amd64" or "linux/arm64".
func PlatformArch(platform string) (string, error) {
	goos, arch, _ := strings.Cut(platform, "/")
	if _, ok := elfMachine[arch]; !ok || goos != "linux" {
		return "", fmt.Errorf("platform %q: want linux/amd64 or linux/arm64", platform)
	}
	return arch, nil
}

// GoBuilderRepo is the repository of the assembled builder images, tagged
// by Go version and GOPROXY.
const GoBuilderRepo = "localhost/netpol-conformance/go-builder"

// Build assembles the builder image when missing, builds the Dockerfile,
// exports it and checks the archive holds what the Dockerfile says.
func (d Dockerfile) Build(ctx context.Context) error {
	arch, err := PlatformArch(d.Platform)
	if err != nil {
		return err
	}
	// buildah initialises its network backend even for --network host and
	// none, leaving /etc/cni/net.d/cni.lock; a machine that had no /etc/cni
	// gets none left behind.
	if _, err := os.Stat(cniConfigRoot); errors.Is(err, os.ErrNotExist) {
		defer removeIfOnly(cniConfigRoot, "net.d/cni.lock", d.Log)
	}
	builder, err := d.goBuilder(ctx)
	if err != nil {
		return fmt.Errorf("the Go builder image: %w", err)
	}
	// BUILDPLATFORM is passed because buildah 1.28 (Debian 12's) does not
	// set it: without it `FROM --platform=$BUILDPLATFORM` asks for an arm64
	// builder when building for arm64, and none exists. Newer builders set
	// the same value themselves.
	if err := d.buildah(ctx, "bud", "--pull-never", "--layers",
		// RUN steps download modules from the Go proxy.
		"--network", "host",
		"--platform", d.Platform,
		"--build-arg", "BUILDPLATFORM=linux/"+runtime.GOARCH,
		"--build-arg", "BUILDER="+builder,
		"--build-arg", "VERSION="+d.Version,
		"--tag", d.Ref,
		"--file", path.Join(d.Context, "Dockerfile"),
		d.Context); err != nil {
		return err
	}
	if err := os.Remove(d.Archive); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("replacing %s: %w", d.Archive, err)
	}
	if err := d.buildah(ctx, "push", d.Ref, "docker-archive:"+d.Archive+":"+d.Ref); err != nil {
		return err
	}
	return VerifyPlugin(d.Archive, Plugin(d.Ref, ""), arch)
}

// cniConfigRoot is where buildah's network backend looks for CNI networks.
const cniConfigRoot = "/etc/cni"

// removeIfOnly removes dir when it holds nothing but the file rel (and
// its parent directories); anything else there is someone else's.
func removeIfOnly(dir, rel string, log io.Writer) {
	var found []string
	_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			found = append(found, p)
		}
		return nil
	})
	if len(found) > 1 || (len(found) == 1 && found[0] != filepath.Join(dir, rel)) {
		fmt.Fprintf(log, "leaving %s: it holds %s\n", dir, strings.Join(found, ", "))
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintf(log, "removing %s: %v\n", dir, err)
	}
}

// goBuilder returns the builder image of this machine's Go toolchain,
// assembling it when missing: GOROOT, a static busybox for the Dockerfile's
// shell-form RUN steps, CA certificates for the module proxy, and the
// environment the official golang images set.
func (d Dockerfile) goBuilder(ctx context.Context) (string, error) {
	goroot, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOROOT: %w", err)
	}
	version, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	proxy, err := exec.CommandContext(ctx, "go", "env", "GOPROXY").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOPROXY: %w", err)
	}
	// The image bakes in GOPROXY: another proxy is another image.
	sum := sha256.Sum256(proxy)
	ref := fmt.Sprintf("%s:%s-%x", GoBuilderRepo, strings.TrimSpace(string(version)), sum[:4])
	if exec.CommandContext(ctx, "buildah", "inspect", "--type", "image", ref).Run() == nil {
		return ref, nil
	}
	fmt.Fprintf(d.Log, "assembling %s from %s\n", ref, strings.TrimSpace(string(goroot)))
	out, err := exec.CommandContext(ctx, "buildah", "from", "scratch").Output()
	if err != nil {
		return "", fmt.Errorf("buildah from scratch: %w", err)
	}
	ctr := strings.TrimSpace(string(out))
	defer func() {
		if err := exec.Command("buildah", "rm", ctr).Run(); err != nil {
			fmt.Fprintf(d.Log, "buildah rm %s: %v\n", ctr, err)
		}
	}()
	steps := [][]string{
		{"copy", ctr, strings.TrimSpace(string(goroot)), "/usr/local/go"},
		{"copy", ctr, "/bin/busybox", "/bin/busybox"},
		{"copy", ctr, "/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs/ca-certificates.crt"},
		{"run", "--network", "none", ctr, "/bin/busybox", "sh", "-c",
			"/bin/busybox --install -s /bin && mkdir -p /tmp /root /go && chmod 1777 /tmp"},
		{"config",
			"--env", "PATH=/usr/local/go/bin:/go/bin:/bin",
			"--env", "GOPATH=/go",
			"--env", "GOTOOLCHAIN=local",
			"--env", "GOPROXY=" + strings.TrimSpace(string(proxy)),
			"--env", "HOME=/root",
			"--workingdir", "/go",
			ctr},
		{"commit", "--quiet", ctr, ref},
	}
	for _, s := range steps {
		if err := d.buildah(ctx, s...); err != nil {
			return "", err
		}
	}
	return ref, nil
}

func (d Dockerfile) buildah(ctx context.Context, args ...string) error {
	fmt.Fprintf(d.Log, "+ buildah %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "buildah", args...)
	cmd.Stdout, cmd.Stderr = d.Log, d.Log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("buildah %s: %w", args[0], err)
	}
	return nil
}

// elfMachine is the ELF machine of each architecture the image is built for.
var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// VerifyPlugin checks that the docker-archive holds the image want describes
// (its files, entrypoint, arguments, user and environment; Sources are
// ignored) for linux/arch, each file an ELF executable for arch.
func VerifyPlugin(archive string, want Spec, arch string) error {
	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		return fmt.Errorf("reading %s: %w", archive, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("config of %s: %w", archive, err)
	}
	var problems []string
	if cfg.OS != "linux" || cfg.Architecture != arch {
		problems = append(problems, fmt.Sprintf("platform %s/%s, want linux/%s", cfg.OS, cfg.Architecture, arch))
	}
	c := cfg.Config
	if !slices.Equal(c.Entrypoint, want.Entrypoint) {
		problems = append(problems, fmt.Sprintf("entrypoint %q, want %q", c.Entrypoint, want.Entrypoint))
	}
	if !slices.Equal(c.Cmd, want.Cmd) {
		problems = append(problems, fmt.Sprintf("cmd %q, want %q", c.Cmd, want.Cmd))
	}
	if c.User != want.User {
		problems = append(problems, fmt.Sprintf("user %q, want %q", c.User, want.User))
	}
	for _, e := range want.Env {
		if !slices.Contains(c.Env, e) {
			problems = append(problems, fmt.Sprintf("env %q lacks %s", c.Env, e))
		}
	}
	files, err := imageFiles(img)
	if err != nil {
		return fmt.Errorf("layers of %s: %w", archive, err)
	}
	var paths []string
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var wantPaths []string
	for _, f := range want.Files {
		wantPaths = append(wantPaths, strings.TrimPrefix(f.Path, "/"))
	}
	slices.Sort(wantPaths)
	if !slices.Equal(paths, wantPaths) {
		problems = append(problems, fmt.Sprintf("files %q, want %q", paths, wantPaths))
	}
	for _, p := range wantPaths {
		data, ok := files[p]
		if !ok {
			continue
		}
		f, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			problems = append(problems, fmt.Sprintf("/%s is not an ELF executable: %v", p, err))
			continue
		}
		if f.Machine != elfMachine[arch] {
			problems = append(problems, fmt.Sprintf("/%s is built for %s, want %s", p, f.Machine, elfMachine[arch]))
		}
		// An empty base has no dynamic loader: every binary must be static.
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				problems = append(problems, fmt.Sprintf("/%s is dynamically linked (it needs an interpreter the empty base lacks): build it with CGO_ENABLED=0", p))
				break
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s is not the plugin image: %s", archive, strings.Join(problems, "; "))
	}
	return nil
}

// imageFiles returns the regular files of the image's flattened
// filesystem by path, without a leading slash.
func imageFiles(img v1.Image) (map[string][]byte, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", h.Name, err)
		}
		files[path.Clean(strings.TrimPrefix(h.Name, "/"))] = data
	}
}

// ArchiveRef returns the one image name a docker-archive is tagged with.
func ArchiveRef(archive string) (string, error) {
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(archive) })
	if err != nil {
		return "", fmt.Errorf("reading the manifest of %s: %w", archive, err)
	}
	if len(m) != 1 || len(m[0].RepoTags) != 1 {
		return "", fmt.Errorf("%s: want one image with one name, found %d images", archive, len(m))
	}
	return m[0].RepoTags[0], nil
}
