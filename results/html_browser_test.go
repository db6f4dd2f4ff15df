package results

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browser finds a headless-capable Chromium: $NETPOL_CHROMIUM, else
// Debian's chromium on PATH.
func browser(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("NETPOL_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH to check the HTML page in a real browser: `apt-get install chromium` (CI does) or set NETPOL_CHROMIUM")
	return ""
}

// TestHTMLInBrowser loads the comparison of the three recorded runs in
// headless Chromium: no script error, the matrix is there, sorting and the
// tag filter work, and a failing cell's link lands on its truth-table diff.
// With NETPOL_SCREENSHOT=path it also saves a PNG of the sorted matrix for
// review.
func TestHTMLInBrowser(t *testing.T) {
	exe := browser(t)
	page := filepath.Join(t.TempDir(), "comparison.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := recordedMatrix(t).HTML(f, "three engines"); err != nil {
		t.Fatal(err)
	}
	f.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // root in CI
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		// The narrowest screen the page is meant for: nothing may overflow it.
		chromedp.WindowSize(1024, 900),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	var scriptErrors []string
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			scriptErrors = append(scriptErrors, ev.ExceptionDetails.Error())
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError {
				scriptErrors = append(scriptErrors, fmt.Sprintf("console.error %v", ev.Args))
			}
		}
	})

	var rows, disagreeing, shownAll, shownEgress, shownDisagree, firstAfterSort, target string
	var overflow, whys, failWhy, rollupRows, chartRuns, zeroStyle, failStyle string
	var screenshot []byte
	steps := []chromedp.Action{
		chromedp.Navigate("file://" + page),
		chromedp.WaitReady("#matrix", chromedp.ByID),
		// Readable at 1024 px: the page itself never scrolls sideways
		// (wide tables scroll in their own box).
		chromedp.Evaluate(`String(document.documentElement.scrollWidth - window.innerWidth)`, &overflow),
		// The why next to each departing cell, with the first wrong cell.
		chromedp.Evaluate(`String(document.querySelectorAll("#matrix td .why").length)`, &whys),
		chromedp.Evaluate(`(document.querySelector("#matrix td.v-fail .why") || {textContent: ""}).textContent`, &failWhy),
		// The family roll-up and one chart row per run.
		chromedp.Evaluate(`String(document.querySelectorAll("#rollup tbody tr").length)`, &rollupRows),
		chromedp.Evaluate(`String(document.querySelectorAll("#enforcement svg g.run").length)`, &chartRuns),
		// A zero count is neutral, not a failure's red.
		chromedp.Evaluate(`getComputedStyle(document.querySelector("#summary td.zero")).backgroundColor`, &zeroStyle),
		chromedp.Evaluate(`getComputedStyle(document.querySelector("#summary td.v-fail")).backgroundColor`, &failStyle),
		chromedp.Evaluate(`String(document.querySelectorAll("#matrix tbody tr").length)`, &rows),
		chromedp.Evaluate(`String(document.querySelectorAll("#matrix tbody tr.disagree").length)`, &disagreeing),
		chromedp.Text("#shown", &shownAll),
		// Filter by tag.
		chromedp.SetValue("#tag", "egress", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById("tag").dispatchEvent(new Event("change"))`, nil),
		chromedp.Text("#shown", &shownEgress),
		chromedp.SetValue("#tag", "", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById("tag").dispatchEvent(new Event("change"))`, nil),
		// Only the disagreements.
		chromedp.Click("#only-disagree", chromedp.ByID),
		chromedp.Text("#shown", &shownDisagree),
		chromedp.Click("#only-disagree", chromedp.ByID),
		// Sort by the kube-router column, descending then ascending:
		// regressions come first ascending.
		chromedp.Click(`#matrix thead th:nth-child(4)`, chromedp.ByQuery),
		chromedp.Text(`#matrix tbody tr:first-child td:nth-child(4)`, &firstAfterSort, chromedp.ByQuery),
		chromedp.CaptureScreenshot(&screenshot),
		// Follow a failing cell's link to its diff.
		chromedp.Click(`#matrix tbody tr:first-child td:nth-child(4) a`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector(":target") ? document.querySelector(":target").textContent : ""`, &target),
	}
	for i, step := range steps {
		if err := chromedp.Run(ctx, step); err != nil {
			t.Fatalf("driving %s, step %d: %v", exe, i, err)
		}
	}
	if len(scriptErrors) > 0 {
		t.Errorf("the page has script errors: %v", scriptErrors)
	}
	if overflow != "0" {
		t.Errorf("at 1024 px the page is %s px wider than the window", overflow)
	}
	if whys == "0" || !strings.Contains(failWhy, "->") {
		t.Errorf("%s why notes; a failing cell's says %q, want its first wrong cell", whys, failWhy)
	}
	if rollupRows != "2" || chartRuns != "3" {
		t.Errorf("roll-up has %s families, chart %s runs; want 2 (egress, other) and 3", rollupRows, chartRuns)
	}
	if zeroStyle == failStyle {
		t.Errorf("a zero count is painted like a failure (%s)", zeroStyle)
	}
	if rows != "101" || disagreeing != "6" {
		t.Errorf("matrix has %s rows, %s disagreeing; want 101 and 6", rows, disagreeing)
	}
	if shownAll != "101 of 101 cases shown" || shownDisagree != "6 of 101 cases shown" {
		t.Errorf("shown: all %q, disagreeing %q", shownAll, shownDisagree)
	}
	if !strings.HasSuffix(shownEgress, "of 101 cases shown") || strings.HasPrefix(shownEgress, "101 ") || strings.HasPrefix(shownEgress, "0 ") {
		t.Errorf("the egress tag filter shows %q", shownEgress)
	}
	if !strings.HasPrefix(firstAfterSort, "FAIL") {
		t.Errorf("sorted by kube-router, the first cell is %q, want a FAIL", firstAfterSort)
	}
	if !strings.Contains(target, "80/TCP: diff") {
		t.Errorf("the failing cell's link lands on %q, want its truth-table diff", target)
	}
	if out := os.Getenv("NETPOL_SCREENSHOT"); out != "" {
		if err := os.WriteFile(out, screenshot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRecordedEnginesPageInBrowser renders the five local engines' recorded
// runs (docs/runs) as docs/comparison.html is made: the chart must show
// Cilium's slower enforcement where it is, right of every other median,
// and the known deviations' why must link upstream. With
// NETPOL_SCREENSHOT_DIR=docs it also writes the page at 1024 px there
// as comparison-1024.png (the first 1,400 px).
func TestRecordedEnginesPageInBrowser(t *testing.T) {
	exe := browser(t)
	var runs []*Run
	for _, e := range []string{"calico", "cilium", "kube-network-policies", "kube-router", "none"} {
		runs = append(runs, load(t, "../docs/runs/"+e+".tar.gz"))
	}
	page := filepath.Join(t.TempDir(), "comparison.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := Compare(runs, egressFamily).HTML(f, "the local engines"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1024, 1400))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var medians map[string]float64
	var upstream string
	var shot []byte
	if err := chromedp.Run(ctx,
		chromedp.Navigate("file://"+page),
		chromedp.WaitReady("#enforcement", chromedp.ByID),
		chromedp.Evaluate(`Object.fromEntries(Array.from(document.querySelectorAll("#enforcement g.run")).filter(g => g.querySelector("line.median")).map(g => [g.dataset.run, Number(g.querySelector("line.median").getAttribute("x1"))]))`, &medians),
		chromedp.Evaluate(`(document.querySelector("#matrix td.v-known-deviation .why a") || {href: ""}).href`, &upstream),
		chromedp.CaptureScreenshot(&shot),
	); err != nil {
		t.Fatalf("driving %s: %v", exe, err)
	}
	if len(medians) != 4 {
		t.Fatalf("chart medians %v: want the four enforcing engines (none has no times)", medians)
	}
	for run, x := range medians {
		if run != "cilium" && x >= medians["cilium"] {
			t.Errorf("%s's median (x=%.0f) is not left of Cilium's (x=%.0f)", run, x, medians["cilium"])
		}
	}
	if !strings.HasPrefix(upstream, "https://github.com/") {
		t.Errorf("a known deviation's why links to %q, want its upstream issue", upstream)
	}
	if dir := os.Getenv("NETPOL_SCREENSHOT_DIR"); dir != "" {
		if len(shot) == 0 {
			t.Fatal("empty screenshot")
		}
		if err := os.WriteFile(filepath.Join(dir, "comparison-1024.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
