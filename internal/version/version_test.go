package version

import (
	"runtime/debug"
	"testing"
)

func TestFromVCS(t *testing.T) {
	for _, tc := range []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{nil, "devel"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "3f2a1c9e0b7d55aa"}, {Key: "vcs.modified", Value: "false"}}, "devel+3f2a1c9e0b7d"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "3f2a1c9e0b7d55aa"}, {Key: "vcs.modified", Value: "true"}}, "devel+3f2a1c9e0b7d+dirty"},
	} {
		if got := fromVCS(tc.settings); got != tc.want {
			t.Errorf("fromVCS(%v) = %q, want %q", tc.settings, got, tc.want)
		}
	}
}
