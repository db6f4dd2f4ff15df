package images

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Dockerfile describes an image built from a Dockerfile with buildah, the
// way a user builds the project's image: no Docker engine, no registry.
type Dockerfile struct {
	Ref string
	// Context is the build context directory; the Dockerfile is at its root.
	Context   string
	BuildArgs map[string]string
	// StorageDir holds buildah's image store. A private store (vfs, which
	// needs no mounts) keeps buildah's state inside the state dir instead of
	// /var/lib/containers; `local down` leaves it for the next build's cache.
	StorageDir string
}

// BuildWithBuildah builds d and writes it as a docker-archive tarball to out,
// logging buildah's output to log.
func BuildWithBuildah(ctx context.Context, d Dockerfile, out string, log *os.File) error {
	if _, err := exec.LookPath("buildah"); err != nil {
		return fmt.Errorf("buildah is needed to build %s from its Dockerfile (apt-get install buildah): %w", d.Ref, err)
	}
	global := []string{
		"--root", filepath.Join(d.StorageDir, "root"),
		"--runroot", filepath.Join(d.StorageDir, "run"),
		"--storage-driver", "vfs",
	}
	bud := append(append([]string{}, global...), "bud", "--layers=false", "--isolation=chroot", "-t", d.Ref)
	keys := make([]string, 0, len(d.BuildArgs))
	for k := range d.BuildArgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		bud = append(bud, "--build-arg", k+"="+d.BuildArgs[k])
	}
	bud = append(bud, d.Context)
	if err := os.Remove(out); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("removing old %s: %w", out, err)
	}
	for _, args := range [][]string{
		bud,
		append(append([]string{}, global...), "push", d.Ref, "docker-archive:"+out+":"+d.Ref),
	} {
		fmt.Fprintf(log, "+ buildah %s\n", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, "buildah", args...)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("buildah %s for %s: %w (see %s)", args[len(global)], d.Ref, err, log.Name())
		}
	}
	return nil
}
