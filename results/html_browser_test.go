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
		chromedp.WindowSize(1400, 1000),
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
	var screenshot []byte
	steps := []chromedp.Action{
		chromedp.Navigate("file://" + page),
		chromedp.WaitReady("#matrix", chromedp.ByID),
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
