package gobuild

import (
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
