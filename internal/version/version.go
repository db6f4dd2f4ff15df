// Package version says which netpol-conformance a binary was built from,
// for reports that are compared across runs and releases.
package version

import "runtime/debug"

// version is set at link time (-X .../internal/version.version=...);
// builds from a module cache fall back to the module version the toolchain
// recorded.
var version = ""

// Get returns the netpol-conformance version: the one set at link time,
// else the module version the toolchain recorded (go install ...@vX), else
// the VCS revision the build was made from ("devel+3f2a1c9e0b7d",
// "+dirty" when the tree had changes), else "devel".
func Get() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return fromVCS(info.Settings)
}

// fromVCS is "devel+REVISION[+dirty]" from the build's VCS settings.
func fromVCS(settings []debug.BuildSetting) string {
	var rev, dirty string
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	return "devel+" + rev[:min(12, len(rev))] + dirty
}
