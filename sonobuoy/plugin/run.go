package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/netpol-conformance/netpol-conformance/profiles"
	"github.com/netpol-conformance/netpol-conformance/record"
	"github.com/netpol-conformance/netpol-conformance/results"
)

const (
	// suiteReportKeptFile keeps the suite's own report when it is replaced
	// by a failing one (a report whose specs were all skipped, or a corrupt
	// file), so nothing the suite wrote is lost from the tarball.
	suiteReportKeptFile  = "suite-junit.xml"
	suiteJournalKeptFile = "suite-journal.jsonl"

	// FailedCaseName names the test case written when the suite produced no
	// usable report.
	FailedCaseName = "[netpol-conformance] the suite ran its specs and wrote its report"

	// deadlineSlack is added to Ginkgo's own timeout before the entrypoint
	// stops the suite itself: Ginkgo's timeout is the one that produces a
	// report, ours only catches a suite that hangs past it.
	deadlineSlack = 2 * time.Minute

	tailLines      = 40
	maxPartialLine = 4096
)

// Outcome says what a run left in the results directory.
type Outcome struct {
	// SuiteErr is the suite's exit error (nil when it exited 0). Failing
	// specs make the suite exit 1: that is a verdict, not an error of the
	// plugin, and travels in the JUnit report.
	SuiteErr error
	// Synthesized is set when the entrypoint wrote the JUnit report itself;
	// it is the failing case's message.
	Synthesized string
	// Ran and Skipped count the test cases of the suite's report.
	Ran, Skipped int
	// Args is the suite's command line, when it was run.
	Args []string
	// Tarball is the path the done file names.
	Tarball string
	// RunID names the run's namespaces, when the suite recorded it.
	RunID string
}

// Run runs the suite as cfg says, streaming its output to out, and writes the
// results Sonobuoy expects. It returns an error only when those results could
// not be written; everything that went wrong before is in the JUnit report.
// Cancelling ctx (the pod being deleted) stops the suite gracefully and
// still writes the results.
func Run(ctx context.Context, cfg Config, cfgErr error, out io.Writer) (Outcome, error) {
	var o Outcome
	if err := os.MkdirAll(cfg.ResultsDir, 0o755); err != nil {
		return o, fmt.Errorf("creating results dir %s: %w", cfg.ResultsDir, err)
	}
	logPath := filepath.Join(cfg.ResultsDir, SuiteLogFile)
	logFile, err := os.Create(logPath)
	if err != nil {
		return o, fmt.Errorf("creating %s: %w", logPath, err)
	}
	tail := &tailWriter{max: tailLines}
	w := io.MultiWriter(out, logFile, tail)

	switch {
	case cfgErr != nil:
		o.Synthesized = "the plugin's configuration is invalid; the suite did not run"
		fmt.Fprintf(w, "netpol-conformance plugin: %s:\n%v\n", o.Synthesized, cfgErr)
	default:
		o = runSuite(ctx, cfg, w, tail)
	}
	if err := logFile.Close(); err != nil {
		return o, fmt.Errorf("writing %s: %w", logPath, err)
	}
	if o.Synthesized != "" {
		details := ""
		if o.Args != nil {
			details = fmt.Sprintf("suite: %s %s\n", cfg.SuiteBinary, strings.Join(o.Args, " "))
		}
		if cfgErr != nil {
			details += "\nconfiguration errors:\n" + cfgErr.Error() + "\n"
		}
		details += fmt.Sprintf("\nlast lines of the output (all of it is in %s):\n%s", SuiteLogFile, tail.String())
		if err := keepSuiteReport(cfg.JUnitPath(), filepath.Join(cfg.ResultsDir, suiteReportKeptFile)); err != nil {
			return o, err
		}
		// The journal goes aside too: what the tarball is read from must
		// say what this report says.
		if err := keepSuiteReport(cfg.JournalPath(), filepath.Join(cfg.ResultsDir, suiteJournalKeptFile)); err != nil {
			return o, err
		}
		report, err := failingReport(FailedCaseName, o.Synthesized, details)
		if err != nil {
			return o, err
		}
		if err := os.WriteFile(cfg.JUnitPath(), report, 0o644); err != nil {
			return o, fmt.Errorf("writing %s: %w", cfg.JUnitPath(), err)
		}
	}
	o.Tarball = filepath.Join(cfg.ResultsDir, TarballFile)
	if err := tarResults(cfg.ResultsDir, o.Tarball); err != nil {
		// Sonobuoy waits for `done` until its own timeout: name the JUnit
		// file alone rather than leave it waiting.
		o.Tarball = cfg.JUnitPath()
		err = errors.Join(fmt.Errorf("packing the results: %w", err), writeDone(cfg.ResultsDir, o.Tarball))
		cleanUp(cfg, o.RunID, out)
		return o, err
	}
	if err := writeDone(cfg.ResultsDir, o.Tarball); err != nil {
		return o, err
	}
	// Last: the results are out first, since Sonobuoy's worker gives up
	// 60 s after the pod is told to stop.
	cleanUp(cfg, o.RunID, out)
	return o, nil
}

// runSuite runs the suite binary and judges its report.
func runSuite(ctx context.Context, cfg Config, w io.Writer, tail *tailWriter) Outcome {
	var o Outcome
	caseFiles, err := cfg.CaseFiles()
	if err != nil {
		o.Synthesized = "the custom case files could not be listed; the suite did not run"
		fmt.Fprintf(w, "netpol-conformance plugin: %v\n", err)
		return o
	}
	for _, f := range caseFiles {
		fmt.Fprintf(w, "netpol-conformance plugin: extra case file %s\n", f)
	}
	// A report or journal left by an earlier attempt of this container
	// must not be taken for this run's.
	for _, stale := range []string{cfg.JUnitPath(), cfg.JournalPath()} {
		if err := os.Remove(stale); err != nil && !errors.Is(err, os.ErrNotExist) {
			o.Synthesized = "a stale report could not be removed; the suite did not run"
			fmt.Fprintf(w, "netpol-conformance plugin: %v\n", err)
			return o
		}
	}
	set, err := profiles.Builtin()
	if err != nil {
		o.Synthesized = "the built-in CNI profiles do not load; the suite did not run"
		fmt.Fprintf(w, "netpol-conformance plugin: %v\n", err)
		return o
	}

	args := cfg.SuiteArgs(len(caseFiles) > 0)
	o.Args = args
	fmt.Fprintf(w, "netpol-conformance plugin: running %s %s\n", cfg.SuiteBinary, strings.Join(args, " "))
	runCtx, cancel := context.WithTimeout(ctx, cfg.GinkgoTimeout+deadlineSlack)
	defer cancel()
	cmd := exec.CommandContext(runCtx, cfg.SuiteBinary, args...)
	suiteOut := &summaryWriter{w: w}
	cmd.Stdout, cmd.Stderr = suiteOut, suiteOut
	// Stop the suite as Ginkgo expects to be interrupted, so it aborts the
	// running spec, runs its cleanup and writes its report; kill it only if
	// it has not exited after the grace period.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = cfg.StopGrace
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = DefaultStopGrace
	}
	start := time.Now()
	var progress *progressPoster
	progressCtx, stopProgress := context.WithCancel(ctx)
	progressDone := make(chan struct{})
	if cfg.ProgressPort != "" {
		progress = newProgressPoster("http://localhost:"+cfg.ProgressPort+"/progress", cfg.JournalPath(), set, w)
		go func() { defer close(progressDone); progress.run(progressCtx) }()
	} else {
		close(progressDone)
	}
	o.SuiteErr = cmd.Run()
	_ = suiteOut.Flush()
	stopProgress()
	<-progressDone
	elapsed := time.Since(start).Round(time.Second)
	fmt.Fprintf(w, "netpol-conformance plugin: suite exited after %s: %s\n", elapsed, exitDescription(o.SuiteErr))

	why := ""
	switch {
	case ctx.Err() != nil:
		why = "the plugin was stopped (pod deleted or Sonobuoy timed out)"
	case runCtx.Err() != nil:
		why = fmt.Sprintf("the suite ran past its timeout (%s) plus %s and was stopped", cfg.GinkgoTimeout, deadlineSlack)
	case o.SuiteErr != nil:
		why = "the suite " + exitDescription(o.SuiteErr)
	default:
		why = "the suite exited 0"
	}
	// The journal is the run's record. A suite that did not close it (it
	// was killed, crashed or timed out) gets it sealed with the reason, so
	// every case it did not finish fails as not run, saying why.
	cause := fmt.Sprintf("%s after %s", why, elapsed)
	// When the plugin stopped the suite, it knows what stopped it: the
	// suite's own "interrupted" is then prefixed with that, in the journal.
	stopped := ctx.Err() != nil || runCtx.Err() != nil
	rec, err := record.Seal(cfg.JournalPath(), cause, time.Now(), stopped)
	switch {
	case errors.Is(err, os.ErrNotExist):
		o.Synthesized = fmt.Sprintf("%s without starting its journal of the run", cause)
		return o
	case err != nil:
		o.Synthesized = fmt.Sprintf("%s and its journal of the run is unreadable: %v", cause, err)
		return o
	}
	if rec.End.Interrupted != "" {
		cause = rec.End.Interrupted
		fmt.Fprintf(w, "netpol-conformance plugin: incomplete run: %s\n", cause)
	}
	o.RunID = rec.Start.RunID
	rec.Complete(cause, time.Now())
	run, err := results.WriteReports(cfg.JUnitPath(), rec, set)
	if err != nil {
		o.Synthesized = fmt.Sprintf("%s and its report could not be written: %v", cause, err)
		return o
	}
	if progress != nil {
		progress.finalPost(rec)
	}
	o.Ran, o.Skipped = countRan(run)
	if o.Ran == 0 && run.Counts()[results.NotRun] == 0 {
		// Complete, and nothing ran: the filters selected nothing, or
		// everything was skipped. (A run cut short already fails: its
		// cases did not run.)
		o.Synthesized = fmt.Sprintf("no spec ran (%d skipped): %s; check %s and %s", o.Skipped, cause, EnvCases, EnvTags)
	}
	return o
}

// cleanupTimeout bounds the cleanup after the suite: the plugin's own
// context may be over (the pod is being deleted), and a stalled API server
// must not keep Sonobuoy waiting for the results.
const cleanupTimeout = time.Minute

// cleanUp deletes what the run left in the cluster. The suite deletes its
// namespaces itself when it ends; one that was killed leaves them, and
// nothing else would.
func cleanUp(cfg Config, runID string, w io.Writer) {
	if cfg.Cleanup == nil || runID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	deleted, err := cfg.Cleanup(ctx, runID)
	switch {
	case err != nil:
		fmt.Fprintf(w, "netpol-conformance plugin: cleaning up run %s: %v (delete them with `netpol-conformance cleanup --run-id %s`)\n", runID, err, runID)
	case len(deleted) > 0:
		fmt.Fprintf(w, "netpol-conformance plugin: deleted %d objects the suite left behind: %s\n", len(deleted), strings.Join(deleted, " "))
	}
}

// countRan counts the cases of a run that ran and those skipped. The
// enforcement checks always run, whatever the filters select; passing
// alone, they checked no case at all. A known deviation or an
// implementation-defined reading ran; a case that did not run did not.
func countRan(run *results.Run) (ran, skipped int) {
	for _, c := range run.Cases {
		switch {
		case record.IsCheck(c.Name) && (c.Verdict == results.Pass || c.Verdict == results.Skipped):
			// A check that passed, or was skipped (the cluster does not
			// serve its API), is not a case.
		case c.Verdict == results.Skipped:
			skipped++
		case c.Verdict != results.NotRun:
			ran++
		}
	}
	return ran, skipped
}

// exitDescription says how a process ended, in words.
func exitDescription(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exited 0"
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			s := fmt.Sprintf("was killed by signal %d (%s)", int(ws.Signal()), ws.Signal())
			if ws.Signal() == syscall.SIGKILL {
				s += " (out of memory, or not stopping after SIGTERM)"
			}
			return s
		}
		return fmt.Sprintf("exited %d", ee.ExitCode())
	case errors.Is(err, exec.ErrWaitDelay):
		return "left its output open after exiting"
	default:
		return "could not be run: " + err.Error()
	}
}

// keepSuiteReport moves a report the entrypoint is about to replace aside.
func keepSuiteReport(from, to string) error {
	err := os.Rename(from, to)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("keeping the suite's report: %w", err)
	}
	return nil
}

// writeDone writes the done file last and atomically: Sonobuoy's worker
// polls for it and reads it as soon as it exists.
func writeDone(dir, tarball string) error {
	tmp := filepath.Join(dir, "."+DoneFile+".tmp")
	if err := os.WriteFile(tmp, []byte(tarball), 0o644); err != nil {
		return fmt.Errorf("writing done file: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, DoneFile)); err != nil {
		return fmt.Errorf("writing done file: %w", err)
	}
	return nil
}

// tailWriter keeps the last max lines written to it.
type tailWriter struct {
	max   int
	lines []string
	part  string
}

func (t *tailWriter) Write(p []byte) (int, error) {
	s := t.part + string(p)
	parts := strings.Split(s, "\n")
	t.part = parts[len(parts)-1]
	if len(t.part) > maxPartialLine {
		// A line without end (a progress bar, binary output) must not grow
		// without bound.
		t.part = t.part[len(t.part)-maxPartialLine:]
	}
	t.lines = append(t.lines, parts[:len(parts)-1]...)
	if over := len(t.lines) - t.max; over > 0 {
		t.lines = append([]string(nil), t.lines[over:]...)
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	s := strings.Join(t.lines, "\n")
	if t.part != "" {
		s += "\n" + t.part
	}
	return s
}
