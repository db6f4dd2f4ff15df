package localcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

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
// needs no registry.
func (c *Cluster) LoadImages(ctx context.Context) error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := c.loadRecord()
	if err != nil {
		return fmt.Errorf("no local cluster in %s (run `local up` first): %w", c.opts.StateDir, err)
	}
	if _, ok := c.sup.Running("containerd"); !ok {
		return fmt.Errorf("containerd of the local cluster in %s is not running: run `local up` first", c.opts.StateDir)
	}
	b, log, err := c.loggingBuilder()
	if err != nil {
		return err
	}
	defer log.Close()

	t0 := time.Now()
	imageDir := filepath.Join(c.opts.RepoRoot, "_output", "image")
	if err := c.buildImageBinaries(ctx, b, imageDir); err != nil {
		return err
	}
	archive := c.path("images", "netpol-conformance.tar")
	if err := os.MkdirAll(filepath.Dir(archive), 0o755); err != nil {
		return fmt.Errorf("creating image dir: %w", err)
	}
	if err := images.Build(images.Plugin(PluginImage, imageDir), archive); err != nil {
		return err
	}
	if err := images.Import(rec.Params.ContainerdSocket, archive); err != nil {
		return err
	}
	if fi, err := os.Stat(archive); err == nil {
		c.logf("image %s loaded (%.1f MiB archive) in %s", PluginImage, float64(fi.Size())/(1<<20), time.Since(t0).Round(time.Second))
	}

	t0 = time.Now()
	bin, err := buildSonobuoy(ctx, b)
	if err != nil {
		return err
	}
	archive = c.path("images", "sonobuoy.tar")
	// Sonobuoy's own image is distroless/static:nonroot plus this binary;
	// the pods it creates mount an emptyDir at /tmp/sonobuoy and run as
	// uid 1000, so an empty base does as well.
	if err := images.Build(images.Binary(SonobuoyImage, bin, "/sonobuoy", "65532:65532"), archive); err != nil {
		return err
	}
	if err := images.Import(rec.Params.ContainerdSocket, archive); err != nil {
		return err
	}
	c.logf("image %s loaded in %s", SonobuoyImage, time.Since(t0).Round(time.Second))
	return nil
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
