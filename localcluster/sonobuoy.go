package localcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/netpol-conformance/netpol-conformance/localcluster/debpkg"
	"github.com/netpol-conformance/netpol-conformance/localcluster/gobuild"
	"github.com/netpol-conformance/netpol-conformance/localcluster/images"
)

// Sonobuoy is pinned. v0.57.3 built with Go >= 1.25.2 cannot parse its own
// aggregator URL (issue 4); v0.57.5 builds here and runs the plugin end to
// end on the local cluster.
const (
	SonobuoyModule  = "github.com/vmware-tanzu/sonobuoy"
	SonobuoyVersion = "v0.57.5"
	// sonobuoyCommit is the tag's commit, as `go mod download -json` reports
	// it in Origin.Hash; `sonobuoy version` prints it.
	sonobuoyCommit = "310c51d9874a4d10d021ec8a19f8b42292ec0bfc"
	// SonobuoyImage is the image `sonobuoy run` uses for its aggregator and
	// workers: sonobuoy/sonobuoy:<the version the binary reports>.
	SonobuoyImage = "sonobuoy/sonobuoy:" + SonobuoyVersion
	// PluginImage is the image plugin.yaml names: our Dockerfile built here.
	// It is never pushed; ":local" says so, as for the harness's own images.
	PluginImage = "localhost/netpol-conformance:local"
)

// BuildSonobuoy builds the sonobuoy CLI (and aggregator/worker: one binary)
// from its own module into <repo>/_output/bin/sonobuoy, and returns its path.
// It is cached with a stamp like every other build.
func (c *Cluster) BuildSonobuoy(ctx context.Context) (string, error) {
	b, log, err := c.loggingBuilder()
	if err != nil {
		return "", err
	}
	defer log.Close()
	return buildSonobuoy(ctx, b)
}

func buildSonobuoy(ctx context.Context, b *gobuild.Builder) (string, error) {
	// Without these the binary reports the version its source hard-codes
	// (v0.57.5's says v0.57.4) and would ask for an image of that version.
	pkg := SonobuoyModule + "/pkg/buildinfo"
	return b.Module(ctx, gobuild.ModuleBuild{
		Module: SonobuoyModule, Version: SonobuoyVersion, Package: ".", Name: "sonobuoy",
		LDFlags: "-X " + pkg + ".Version=" + SonobuoyVersion + " -X " + pkg + ".GitSHA=" + sonobuoyCommit,
	})
}

// loggingBuilder is c's builder with its output appended to logs/build.log.
func (c *Cluster) loggingBuilder() (*gobuild.Builder, *os.File, error) {
	if err := os.MkdirAll(c.path("logs"), 0o755); err != nil {
		return nil, nil, fmt.Errorf("creating log dir: %w", err)
	}
	log, err := os.OpenFile(c.path("logs", "build.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("opening build log: %w", err)
	}
	b := c.builder()
	b.Log = log
	return b, log, nil
}

// LoadImages builds the plugin image (the Dockerfile's final stage: our
// binary and the compiled suite) and Sonobuoy's image in Go, with no image
// builder on the machine, and imports both into
// the running cluster's containerd, so `sonobuoy run --plugin plugin.yaml`
// needs no registry. With pluginArchive, the plugin image is that
// docker-archive instead (e.g. BuildDockerfileImage's). It returns the
// plugin image's name.
func (c *Cluster) LoadImages(ctx context.Context, pluginArchive string) (string, error) {
	unlock, err := c.lock()
	if err != nil {
		return "", err
	}
	defer unlock()
	rec, err := c.loadRecord()
	if err != nil {
		return "", fmt.Errorf("no local cluster in %s (run `local up` first): %w", c.opts.StateDir, err)
	}
	nodes := c.recordedNodes(rec)
	for _, n := range nodes {
		if _, ok := c.sup.Running(n.component("containerd")); !ok {
			return "", fmt.Errorf("%s of the local cluster in %s is not running: run `local up` first", n.component("containerd"), c.opts.StateDir)
		}
	}
	// Every node's runtime gets each image: the scheduler may place the
	// plugin's pods on any node.
	importAll := func(archive string) error {
		for _, n := range nodes {
			if err := images.Import(n.params.ContainerdSocket, archive); err != nil {
				return fmt.Errorf("node %s: %w", n.Name, err)
			}
		}
		return nil
	}
	b, log, err := c.loggingBuilder()
	if err != nil {
		return "", err
	}
	defer log.Close()

	t0 := time.Now()
	ref := PluginImage
	if pluginArchive != "" {
		if ref, err = images.ArchiveRef(pluginArchive); err != nil {
			return "", err
		}
		if err := images.VerifyPlugin(pluginArchive, images.Plugin(ref, ""), runtime.GOARCH); err != nil {
			return "", err
		}
	} else {
		imageDir := filepath.Join(c.opts.RepoRoot, "_output", "image")
		if err := c.buildImageBinaries(ctx, b, imageDir); err != nil {
			return "", err
		}
		pluginArchive = c.path("images", "netpol-conformance.tar")
		if err := os.MkdirAll(filepath.Dir(pluginArchive), 0o755); err != nil {
			return "", fmt.Errorf("creating image dir: %w", err)
		}
		if err := images.Build(images.Plugin(PluginImage, imageDir), pluginArchive); err != nil {
			return "", err
		}
	}
	if err := importAll(pluginArchive); err != nil {
		return "", err
	}
	if fi, err := os.Stat(pluginArchive); err == nil {
		c.logf("image %s loaded (%.1f MiB archive) in %s", ref, float64(fi.Size())/(1<<20), time.Since(t0).Round(time.Second))
	}

	t0 = time.Now()
	bin, err := buildSonobuoy(ctx, b)
	if err != nil {
		return "", err
	}
	archive := c.path("images", "sonobuoy.tar")
	// Sonobuoy's own image is distroless/static:nonroot plus this binary;
	// the pods it creates mount an emptyDir at /tmp/sonobuoy and run as
	// uid 1000, so an empty base does as well.
	if err := images.Build(images.Binary(SonobuoyImage, bin, "/sonobuoy", "65532:65532"), archive); err != nil {
		return "", err
	}
	if err := importAll(archive); err != nil {
		return "", err
	}
	c.logf("image %s loaded in %s", SonobuoyImage, time.Since(t0).Round(time.Second))
	return ref, nil
}

// DockerfileImage names the image BuildDockerfileImage builds for this
// machine's architecture; other platforms get their architecture appended.
const DockerfileImage = "localhost/netpol-conformance:dockerfile"

// BuildDockerfileImage builds the repository's Dockerfile for platform as
// `docker build .` would, with buildah (installed when missing) from a Go
// builder image assembled from this machine's Go toolchain, and writes it
// to archive (default _output/image/netpol-conformance-ARCH.tar), checked
// to be the plugin image. It needs no cluster. It returns the archive.
func (c *Cluster) BuildDockerfileImage(ctx context.Context, platform, archive string) (string, error) {
	// Checked before anything is installed.
	arch, err := images.PlatformArch(platform)
	if err != nil {
		return "", err
	}
	if err := debpkg.EnsureFor(debpkg.ImageBuild, c.opts.Out); err != nil {
		return "", err
	}
	ref := DockerfileImage
	if arch != runtime.GOARCH {
		ref += "-" + arch
	}
	if archive == "" {
		archive = filepath.Join(c.opts.RepoRoot, "_output", "image", "netpol-conformance-"+arch+".tar")
	}
	if err := os.MkdirAll(filepath.Dir(archive), 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", filepath.Dir(archive), err)
	}
	if err := os.MkdirAll(c.path("logs"), 0o755); err != nil {
		return "", fmt.Errorf("creating the log dir: %w", err)
	}
	logPath := c.path("logs", "build-image-"+arch+".log")
	log, err := os.Create(logPath)
	if err != nil {
		return "", fmt.Errorf("opening the build log: %w", err)
	}
	defer log.Close()
	t0 := time.Now()
	c.logf("building the Dockerfile for %s as %s with buildah (log: %s)", platform, ref, logPath)
	d := images.Dockerfile{
		Context: c.opts.RepoRoot, Platform: platform, Ref: ref,
		Version: checkoutVersion(c.opts.RepoRoot), Archive: archive, Log: log,
	}
	if err := d.Build(ctx); err != nil {
		return "", fmt.Errorf("building the Dockerfile (see %s): %w", logPath, err)
	}
	fi, err := os.Stat(archive)
	if err != nil {
		return "", err
	}
	c.logf("image %s built from the Dockerfile and checked (%.1f MiB archive) in %s", ref, float64(fi.Size())/(1<<20), time.Since(t0).Round(time.Second))
	return archive, nil
}

// buildImageBinaries puts the static binaries of the plugin image into dir:
// our command, the agent, and the suite compiled from ./suite. Until ./suite exists
// a suite binary placed there by hand is used, and said so.
func (c *Cluster) buildImageBinaries(ctx context.Context, b *gobuild.Builder, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	// Reports name the suite's version: the checkout's revision, as no
	// release tag is set here.
	ldflags := "-X " + versionVar + "=" + checkoutVersion(c.opts.RepoRoot)
	if err := b.StaticToWith(ctx, ldflags, filepath.Join(dir, "netpol-conformance"), "build", "./cmd/netpol-conformance"); err != nil {
		return err
	}
	if err := b.StaticToWith(ctx, ldflags, filepath.Join(dir, "netpol-agent"), "build", "./cmd/netpol-agent"); err != nil {
		return err
	}
	suite := filepath.Join(dir, "netpol-suite")
	if _, err := os.Stat(filepath.Join(c.opts.RepoRoot, "suite")); err == nil {
		return b.StaticToWith(ctx, ldflags, suite, "test", "-c", "./suite")
	}
	if _, err := os.Stat(suite); err != nil {
		return errors.New("no ./suite package to compile and no prebuilt " + suite + ": the image needs the suite")
	}
	c.logf("no ./suite package yet: using the prebuilt %s", suite)
	return nil
}

// versionVar is the variable internal/version reads first.
const versionVar = "github.com/netpol-conformance/netpol-conformance/internal/version.version"

// checkoutVersion is "devel+REVISION[+dirty]" for the checkout at root, or
// "devel" when it is not a git checkout.
func checkoutVersion(root string) string {
	rev, err := exec.Command("git", "-C", root, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "devel"
	}
	v := "devel+" + strings.TrimSpace(string(rev))
	if status, err := exec.Command("git", "-C", root, "status", "--porcelain").Output(); err == nil && len(strings.TrimSpace(string(status))) > 0 {
		v += "+dirty"
	}
	return v
}
