package plugin

import (
	"regexp"
	"strings"
	"testing"
)

func TestSummaryWriterKeepsFailedOutOfAPassingRun(t *testing.T) {
	in := "Ran 9 of 104 Specs in 60.1 seconds\nSUCC" + "ESS! -- 9 Passed | 0 Failed | 0 Pending | 95 Skipped\nPASS\n" +
		"FAIL! -- 88 Passed | 4 Failed | 0 Pending | 12 Skipped\n[FAIL] NetworkPolicy x failed\npartial"
	var out strings.Builder
	w := &summaryWriter{w: &out}
	// Written in pieces, as a pipe delivers it.
	for _, chunk := range []string{in[:20], in[20:61], in[61:]} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "Ran 9 of 104 Specs in 60.1 seconds\nSUCCESS! -- 9 passed, 0 failing, 0 pending, 95 skipped\nPASS\n" +
		"FAIL! -- 88 passed, 4 failing, 0 pending, 12 skipped\n[FAIL] NetworkPolicy x failed\npartial"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	// Sonobuoy's error pattern finds nothing in the passing run's lines.
	sonobuoyError := regexp.MustCompile(`[fF]ailed|[eE]rror`)
	for _, l := range strings.Split(want, "\n")[:3] {
		if sonobuoyError.MatchString(l) {
			t.Errorf("%q would count as an error", l)
		}
	}
}
