// Package images builds the local cluster's container images from static
// binaries (an empty base plus one layer, written as a docker-archive
// tarball) and imports them into containerd's k8s.io namespace. No registry
// is involved: pods use imagePullPolicy Never or IfNotPresent.
package images

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const (
	// Pause is the sandbox image containerd is configured with.
	Pause = "localhost/netpol-conformance/pause:local"
	// Agent runs `netpol-conformance agent serve|probe` in test pods.
	Agent = "localhost/netpol-conformance/agent:local"
	// AgentBinary is where the agent image, and the plugin image, hold the
	// agent (cmd/netpol-agent).
	AgentBinary = "/netpol-agent"
)

// Spec is one image made of static binaries in a single layer on an empty
// base: what a `FROM scratch` Dockerfile that copies them gives, without an
// image builder on the machine.
type Spec struct {
	Ref   string
	Files []File
	// Entrypoint defaults to the first file; Cmd is its default arguments.
	Entrypoint, Cmd []string
	// Env is added to PATH=/.
	Env []string
	// User is "uid:gid"; images run as non-root.
	User string
}

// File is a host file placed in the image.
type File struct {
	// Source is the host path, Path where the image holds it.
	Source, Path string
}

// Binary is the Spec of an image holding one binary, run as its entrypoint.
func Binary(ref, source, path, user string) Spec {
	return Spec{Ref: ref, Files: []File{{Source: source, Path: path}}, User: user}
}

// Build writes the image as a docker-archive tarball to out.
func Build(s Spec, out string) error {
	if len(s.Files) == 0 {
		return fmt.Errorf("image %s: no files", s.Ref)
	}
	content, err := layerTar(s.Files)
	if err != nil {
		return fmt.Errorf("layer of %s: %w", s.Ref, err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(content)), nil
	})
	if err != nil {
		return fmt.Errorf("layer of %s: %w", s.Ref, err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return fmt.Errorf("image %s: %w", s.Ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("config of %s: %w", s.Ref, err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	cfg.Config.Entrypoint = s.Entrypoint
	if len(cfg.Config.Entrypoint) == 0 {
		cfg.Config.Entrypoint = []string{s.Files[0].Path}
	}
	cfg.Config.Cmd = s.Cmd
	cfg.Config.User = s.User
	cfg.Config.Env = append([]string{"PATH=/"}, s.Env...)
	// A fixed date keeps the image ID stable across rebuilds of the same binary.
	cfg.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return fmt.Errorf("configuring %s: %w", s.Ref, err)
	}
	tag, err := name.NewTag(s.Ref)
	if err != nil {
		return fmt.Errorf("parsing image name %s: %w", s.Ref, err)
	}
	if err := tarball.WriteToFile(out, tag, img); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return nil
}

// Import loads a docker-archive tarball into containerd's k8s.io namespace.
func Import(ctrSocket, archive string) error {
	out, err := exec.Command("ctr", "--address", ctrSocket, "-n", "k8s.io", "images", "import", "--no-unpack=false", archive).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr images import %s: %w: %s", archive, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// layerTar is a tar holding the files and their parent directories (files
// mode 0555, owned by root: the non-root user can run but not change them).
func layerTar(files []File) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	seen := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f.Source)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f.Source, err)
		}
		var dirs []string
		for d := path.Dir(f.Path); d != "/" && d != "."; d = path.Dir(d) {
			dirs = append([]string{d}, dirs...)
		}
		for _, d := range dirs {
			if !seen[d] {
				seen[d] = true
				_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, ModTime: epoch})
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(f.Path, "/"), Mode: 0o555, Size: int64(len(data)), ModTime: epoch}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Plugin is the Sonobuoy plugin's image as the repository's Dockerfile
// describes its final stage: our command (the plugin's entrypoint), the
// small prober agent the suite's pods run, and the compiled suite, all
// static, from dir. Building it
// here needs no image builder; TestPluginMatchesDockerfile keeps the two
// descriptions equal.
func Plugin(ref, dir string) Spec {
	return Spec{
		Ref: ref,
		Files: []File{
			{Source: path.Join(dir, "netpol-conformance"), Path: "/netpol-conformance"},
			{Source: path.Join(dir, "netpol-agent"), Path: AgentBinary},
			{Source: path.Join(dir, "netpol-suite"), Path: "/netpol-suite"},
		},
		Entrypoint: []string{"/netpol-conformance"},
		Cmd:        []string{"plugin", "run"},
		Env:        []string{"HOME=/tmp"},
		User:       "65532:65532",
	}
}
