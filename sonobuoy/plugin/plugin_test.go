package plugin

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netpol-conformance/netpol-conformance/profiles"
	"github.com/netpol-conformance/netpol-conformance/record"
	"github.com/netpol-conformance/netpol-conformance/results"
)

// fakeSuite is the path of testdata/fakesuite, built once for the package;
// testBinDir holds it and the real suite, and goes when the tests end.
var fakeSuite, testBinDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "netpol-plugin-test")
	if err != nil {
		panic(err)
	}
	testBinDir = dir
	fakeSuite = filepath.Join(dir, "fakesuite")
	cmd := exec.Command("go", "build", "-o", fakeSuite, "./testdata/fakesuite")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		panic("building the fake suite: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigFromEnvMapsEveryKnob(t *testing.T) {
	cfg, err := ConfigFromEnv(env(map[string]string{
		EnvCases:              "^deny-",
		EnvTags:               "ingress && !sctp",
		EnvProbeTimeout:       "2s",
		EnvConvergenceTimeout: "45s",
		EnvProtocols:          "tcp, UDP",
		EnvAgentImage:         "localhost/netpol-conformance:v0.1.0",
		EnvGinkgoTimeout:      "20m",
		EnvCNI:                "calico@v3.31.0",
		EnvStrict:             "true",
		EnvNodeProbes:         "false",
		EnvResultsDir:         "/r",
		EnvConfigDir:          "/c",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"--netpol.junit-report=/r/" + JUnitFile,
		"--ginkgo.timeout=20m0s",
		"--ginkgo.v",
		"--ginkgo.no-color",
		"--netpol.cases=^deny-",
		"--ginkgo.label-filter=(ingress && !sctp) || enforcement",
		"--netpol.probe-timeout=2s",
		"--netpol.convergence-timeout=45s",
		"--netpol.protocols=TCP,UDP",
		"--netpol.agent-image=localhost/netpol-conformance:v0.1.0",
		"--netpol.cni=calico@v3.31.0",
		"--netpol.strict=true",
		"--netpol.node-probes=false",
		"--netpol.case-dir=/c",
	}
	if got := cfg.SuiteArgs(true); !reflect.DeepEqual(got, want) {
		t.Errorf("SuiteArgs:\n got %q\nwant %q", got, want)
	}
}

func TestConfigFromEnvDefaults(t *testing.T) {
	cfg, err := ConfigFromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	// Unset knobs are not passed: the suite's defaults apply. Ginkgo's
	// timeout is always explicit.
	want := []string{
		"--netpol.junit-report=" + DefaultResultsDir + "/" + JUnitFile,
		"--ginkgo.timeout=1h0m0s",
		"--ginkgo.v",
		"--ginkgo.no-color",
	}
	if got := cfg.SuiteArgs(false); !reflect.DeepEqual(got, want) {
		t.Errorf("SuiteArgs:\n got %q\nwant %q", got, want)
	}
	if cfg.ConfigDir != DefaultConfigDir || cfg.SuiteBinary != DefaultSuiteBinary {
		t.Errorf("defaults: config dir %q, suite %q", cfg.ConfigDir, cfg.SuiteBinary)
	}
}

func TestConfigFromEnvReportsEveryError(t *testing.T) {
	_, err := ConfigFromEnv(env(map[string]string{
		EnvCases:              "deny-(",
		EnvProbeTimeout:       "2",
		EnvConvergenceTimeout: "-5s",
		EnvProtocols:          "TCP,ICMP",
		EnvGinkgoTimeout:      "soon",
		EnvStrict:             "yes",
		EnvNodeProbes:         "no",
	}))
	if _, err := ConfigFromEnv(env(map[string]string{EnvProbeTimeout: "10ms"})); err == nil || !strings.Contains(err.Error(), "below the floor") {
		t.Errorf("a 10ms probe timeout: %v", err)
	}
	if err == nil {
		t.Fatal("no error for seven invalid values")
	}
	for _, name := range []string{EnvCases, EnvProbeTimeout, EnvConvergenceTimeout, `unknown protocol "ICMP"`, EnvGinkgoTimeout, EnvStrict, EnvNodeProbes} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not mention %s:\n%v", name, err)
		}
	}
}

func TestCaseFiles(t *testing.T) {
	dir := t.TempDir()
	// The layout of a ConfigMap volume: keys are symlinks into ..data.
	data := filepath.Join(dir, "..2026_11_26_09_00_00.000")
	mustMkdir(t, data)
	for _, n := range []string{"my-family.yaml", "more.yml", "README.md"} {
		mustWrite(t, filepath.Join(data, n), "x")
		if err := os.Symlink(filepath.Join("..data", n), filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Base(data), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	got, err := Config{ConfigDir: dir}.CaseFiles()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "more.yml"), filepath.Join(dir, "my-family.yaml")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CaseFiles: got %q, want %q", got, want)
	}
	if got, err := (Config{ConfigDir: filepath.Join(dir, "absent")}).CaseFiles(); err != nil || got != nil {
		t.Errorf("CaseFiles of a missing dir (no ConfigMap): got %q, %v; want nothing, no error", got, err)
	}
}

// run runs the entrypoint with the fake suite in mode and returns the
// outcome and the results directory.
func run(t *testing.T, ctx context.Context, mode string, out io.Writer, vars map[string]string) (Outcome, string) {
	t.Helper()
	t.Setenv("FAKE_SUITE_MODE", mode)
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	t.Setenv("FAKE_SUITE_ARGS_FILE", filepath.Join(dir, "args"))
	if vars == nil {
		vars = map[string]string{}
	}
	vars[EnvResultsDir] = results
	if _, ok := vars[EnvConfigDir]; !ok {
		vars[EnvConfigDir] = filepath.Join(dir, "no-config")
	}
	cfg, cfgErr := ConfigFromEnv(env(vars))
	cfg.SuiteBinary = fakeSuite
	cfg.StopGrace = 2 * time.Second
	if out == nil {
		out = io.Discard
	}
	o, err := Run(ctx, cfg, cfgErr, out)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return o, results
}

// checkResults checks the protocol Sonobuoy's worker relies on: a done file
// naming a gzipped tarball that holds the JUnit report and the suite log.
// It returns the report as unpacked from the tarball.
func checkResults(t *testing.T, results string) string {
	t.Helper()
	done, err := os.ReadFile(filepath.Join(results, DoneFile))
	if err != nil {
		t.Fatalf("no done file: %v", err)
	}
	if want := filepath.Join(results, TarballFile); string(done) != want {
		t.Fatalf("done file holds %q, want %q", done, want)
	}
	files := untar(t, string(done))
	for _, n := range []string{JUnitFile, SuiteLogFile} {
		if _, ok := files[n]; !ok {
			t.Errorf("tarball lacks %s (has %v)", n, keys(files))
		}
	}
	for n := range files {
		if n == TarballFile || n == DoneFile || strings.HasSuffix(n, ".tmp") {
			t.Errorf("tarball holds %s", n)
		}
	}
	return files[JUnitFile]
}

func TestRunPassingSuite(t *testing.T) {
	o, results := run(t, context.Background(), "pass", nil, nil)
	if o.SuiteErr != nil || o.Synthesized != "" || o.Ran != 2 {
		t.Errorf("outcome %+v: want the journal's 2 passed cases", o)
	}
	report := checkResults(t, results)
	if !strings.Contains(report, "deny-all-ingress-in-x") || strings.Contains(report, FailedCaseName) {
		t.Errorf("report is not the suite's:\n%s", report)
	}
}

func TestRunPassesFlagsAndExtraCaseFiles(t *testing.T) {
	cfgDir := t.TempDir()
	mustWrite(t, filepath.Join(cfgDir, "custom.yaml"), "family: custom\n")
	_, results := run(t, context.Background(), "pass", nil, map[string]string{
		EnvConfigDir: cfgDir, EnvCases: "custom", EnvProtocols: "TCP",
	})
	args, err := os.ReadFile(filepath.Join(filepath.Dir(results), "args"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--netpol.case-dir=" + cfgDir, "--netpol.cases=custom", "--netpol.protocols=TCP", "--netpol.junit-report=" + filepath.Join(results, JUnitFile)} {
		if !strings.Contains(string(args), want+"\n") {
			t.Errorf("suite args lack %q:\n%s", want, args)
		}
	}
}

func TestRunFailingSuiteKeepsItsReport(t *testing.T) {
	o, results := run(t, context.Background(), "fail", nil, nil)
	if o.SuiteErr == nil || o.Synthesized != "" || o.Ran != 2 {
		t.Errorf("outcome %+v: want exit 1 and the journal's cases", o)
	}
	if report := checkResults(t, results); !strings.Contains(report, "expected X, observed .") {
		t.Errorf("the suite's failure detail is lost:\n%s", report)
	}
}

// Every way the suite can end without a report of specs that ran must give
// one failing case: Sonobuoy counts an empty report as a pass.
func TestRunWritesAFailingCaseWhenNoSpecRan(t *testing.T) {
	for _, tc := range []struct {
		mode string
		want []string // in the failure message or details
		kept bool     // the suite's own report is kept aside
	}{
		{"panic", []string{"the suite exited 2", "without starting its journal", "panic: framework: no cluster", "unable to load the kubeconfig"}, false},
		{"empty", []string{"no spec ran (0 skipped)", "exited 0", EnvCases}, true},
		{"all-skipped", []string{"no spec ran (2 skipped)"}, true},
		{"corrupt", []string{"journal of the run is unreadable"}, true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			o, results := run(t, context.Background(), tc.mode, nil, nil)
			if o.Synthesized == "" {
				t.Fatalf("outcome %+v: no failing case written", o)
			}
			report := checkResults(t, results)
			if strings.Count(report, "<testcase ") != 1 || strings.Count(report, "<failure") != 1 || !strings.Contains(report, FailedCaseName) {
				t.Errorf("want one failing case:\n%s", report)
			}
			for _, w := range tc.want {
				if !strings.Contains(report, w) {
					t.Errorf("report lacks %q:\n%s", w, report)
				}
			}
			_, err := os.Stat(filepath.Join(results, suiteReportKeptFile))
			_, err2 := os.Stat(filepath.Join(results, suiteJournalKeptFile))
			if kept := err == nil || err2 == nil; kept != tc.kept {
				t.Errorf("suite's own report kept aside: %v, want %v", kept, tc.kept)
			}
		})
	}
}

func TestRunMissingSuiteBinary(t *testing.T) {
	results := filepath.Join(t.TempDir(), "results")
	cfg, _ := ConfigFromEnv(env(map[string]string{EnvResultsDir: results}))
	cfg.SuiteBinary = filepath.Join(t.TempDir(), "no-such-suite")
	o, err := Run(context.Background(), cfg, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if report := checkResults(t, results); !strings.Contains(report, "could not be run") {
		t.Errorf("outcome %+v; report:\n%s", o, report)
	}
}

func TestRunInvalidConfigDoesNotRunTheSuite(t *testing.T) {
	o, results := run(t, context.Background(), "pass", nil, map[string]string{EnvProtocols: "ICMP"})
	report := checkResults(t, results)
	if !strings.Contains(o.Synthesized, "configuration is invalid") || !strings.Contains(report, "unknown protocol &#34;ICMP&#34;") {
		t.Errorf("outcome %+v; report:\n%s", o, report)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(results), "args")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the suite ran despite an invalid configuration (%v)", err)
	}
}

// When the pod is deleted the suite gets SIGTERM, writes its report as
// Ginkgo does on an interrupt, and the results are still written.
func TestRunStoppedGracefully(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o, results := run(t, ctx, "hang", &onLine{line: "ready", do: cancel}, nil)
	if o.Synthesized != "" || o.Ran != 1 {
		t.Errorf("outcome %+v: want the cases the interrupted suite recorded", o)
	}
	report := checkResults(t, results)
	for _, want := range []string{`status="fail"`, "interrupted by a signal", `status="not-run"`, "did not run: the plugin was stopped (pod deleted or Sonobuoy timed out) after 0s: the suite stopped early: Interrupted by User"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

// A suite that ignores SIGTERM is killed after the grace period, and the
// report says the plugin was stopped.
func TestRunStubbornSuiteIsKilled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	o, results := run(t, ctx, "stubborn", &onLine{line: "ready", do: cancel}, nil)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %s: the grace period was not applied", d)
	}
	report := checkResults(t, results)
	for _, want := range []string{"did not run: the plugin was stopped", `status="not-run"`, `name="netpol-conformance.complete" value="false"`} {
		if !strings.Contains(report, want) {
			t.Errorf("outcome %+v; report lacks %q:\n%s", o, want, report)
		}
	}
}

func TestRunReplacesAStaleReport(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	mustMkdir(t, results)
	mustWrite(t, filepath.Join(results, JUnitFile), `<testsuites><testsuite><testcase name="old"/></testsuite></testsuites>`)
	mustWrite(t, filepath.Join(results, record.JournalFile), `{"start":{"schema":"`+record.Schema+`","runID":"old","started":null,"strict":false,"planned":[{"name":"old"}]}}`+"\n"+`{"case":{"name":"old","outcome":"passed","started":null,"finished":null}}`+"\n")
	t.Setenv("FAKE_SUITE_MODE", "panic")
	cfg, _ := ConfigFromEnv(env(map[string]string{EnvResultsDir: results, EnvConfigDir: filepath.Join(dir, "none")}))
	cfg.SuiteBinary = fakeSuite
	o, err := Run(context.Background(), cfg, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Synthesized == "" {
		t.Errorf("a report from an earlier container was taken for this run's: %+v", o)
	}
}

func TestTailWriter(t *testing.T) {
	tw := &tailWriter{max: 2}
	for _, s := range []string{"one\ntw", "o\nthree\n", "fo", "ur"} {
		if _, err := tw.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := tw.String(), "two\nthree\nfour"; got != want {
		t.Errorf("tail: got %q, want %q", got, want)
	}
}

// onLine calls do once, when line has been written.
type onLine struct {
	line string
	do   func()
	buf  bytes.Buffer
	once sync.Once
}

func (w *onLine) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.line+"\n") {
		w.once.Do(w.do)
	}
	return len(p), nil
}

func untar(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s is not gzipped: %v", path, err)
	}
	tr := tar.NewReader(gz)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = string(data)
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A known deviation or an implementation-defined reading ran; a case that
// did not run did not; the enforcement check alone, passing, ran nothing.
func TestCountRan(t *testing.T) {
	run := results.FromRecord("r", &record.Run{
		Start: record.Start{Planned: []record.Planned{{Name: record.EnforcementCheck}, {Name: "a"}, {Name: "b"}, {Name: "c"}}},
		Cases: []record.Case{
			{Name: record.EnforcementCheck, Outcome: record.Passed},
			{Name: "a", Outcome: record.Passed, OwnReadings: []string{"hairpin"}},
			{Name: "b", Outcome: record.Skipped},
			{Name: "c", Outcome: record.NotRun},
		},
	}, profiles.Set{})
	if ran, skipped := countRan(run); ran != 1 || skipped != 1 {
		t.Errorf("countRan = %d ran, %d skipped; want 1 and 1", ran, skipped)
	}
}

// Sonobuoy shows completed as passed and total - completed - failures as
// remaining: completed counts only cases that did not fail, and skipped
// cases are in neither.
func TestProgressOf(t *testing.T) {
	rec := &record.Run{
		Start: record.Start{Planned: []record.Planned{{Name: record.EnforcementCheck}, {Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}}},
		Cases: []record.Case{
			{Name: record.EnforcementCheck, Outcome: record.Passed},
			{Name: "a", Outcome: record.Departed},
			{Name: "b", Outcome: record.Skipped},
		},
	}
	u := progressOf(rec, profiles.Set{})
	if u.Total != 4 || u.Completed != 1 || len(u.Failures) != 1 || u.Failures[0] != "a" {
		t.Errorf("progress %+v: want total 4, completed 1, failures [a]", u)
	}
	if remaining := u.Total - u.Completed - len(u.Failures); remaining != 2 {
		t.Errorf("remaining %d, want 2 (c and d)", remaining)
	}
}
