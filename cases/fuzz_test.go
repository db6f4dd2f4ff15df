package cases

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/netpol-conformance/netpol-conformance/topology"
)

// FuzzParse feeds arbitrary bytes to the loader. It must never panic, and
// a file it accepts must replay through the model without error: validation
// is the only gate between a user's file and the suite.
var familyLine = regexp.MustCompile(`(?m)^family: .*$`)

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("*.yaml")
	invalid, _ := filepath.Glob("testdata/invalid/*.yaml")
	for _, s := range append(seeds, invalid...) {
		if data, err := os.ReadFile(s); err == nil {
			// The family must match the file name, fuzz.yaml here, or the
			// fuzzer would only ever explore rejected files.
			f.Add(familyLine.ReplaceAll(data, []byte("family: fuzz")))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		topo := topology.Standard()
		file, err := Parse("fuzz.yaml", data, topo)
		if err != nil {
			return
		}
		for i := range file.Cases {
			stages, err := file.Cases[i].Stages(topo)
			if err != nil {
				t.Fatalf("accepted case %q does not replay: %v", file.Cases[i].Name, err)
			}
			for _, s := range stages {
				if _, err := s.Model(); err != nil {
					t.Fatalf("accepted case %q: %s: %v", file.Cases[i].Name, s.Name(), err)
				}
			}
		}
	})
}
