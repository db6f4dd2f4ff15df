package cases

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netpol-conformance/netpol-conformance/topology"
)

var update = flag.Bool("update", false, "rewrite the testdata/invalid/*.golden files")

// TestInvalidGolden feeds one file per kind of mistake to the loader and
// compares the full error report with a golden file: every problem must be
// reported at once, naming file, case and field.
func TestInvalidGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid inputs: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, err := LoadPaths([]string{file}, topology.Standard())
			if err == nil {
				t.Fatalf("%s loaded without error", file)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading golden (run go test ./cases -run Golden -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("error report differs from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}
