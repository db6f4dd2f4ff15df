// Package version says which netpol-conformance a binary was built from,
// for reports that are compared across runs and releases.
package version

import "runtime/debug"

// version is set at link time (-X .../internal/version.version=...);
// builds from a module cache fall back to the module version the toolchain
// recorded.
var version = ""

// Get returns the netpol-conformance version, or "devel".
func Get() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "devel"
}
