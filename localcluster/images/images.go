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
	// AgentBinary is where the agent image holds the binary.
	AgentBinary = "/netpol-conformance"
)

// Spec is one image made of a single static binary.
type Spec struct {
	Ref string
	// Binary is the host path of the file to put at Path in the image.
	Binary, Path string
	// User is "uid:gid"; images run as non-root.
	User string
}

// Build writes the image as a docker-archive tarball to out.
func Build(s Spec, out string) error {
	data, err := os.ReadFile(s.Binary)
	if err != nil {
		return fmt.Errorf("reading %s: %w", s.Binary, err)
	}
	content := layerTar(s.Path, data)
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
	cfg.Config.Entrypoint = []string{s.Path}
	cfg.Config.User = s.User
	cfg.Config.Env = []string{"PATH=/"}
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

// layerTar is a tar holding the parent directories of p and the binary at p
// (mode 0555, owned by root: the non-root user can run but not change it).
func layerTar(p string, data []byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var dirs []string
	for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	epoch := time.Unix(0, 0)
	for _, d := range dirs {
		_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, ModTime: epoch})
	}
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(p, "/"), Mode: 0o555, Size: int64(len(data)), ModTime: epoch})
	_, _ = tw.Write(data)
	_ = tw.Close()
	return buf.Bytes()
}
