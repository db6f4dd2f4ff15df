// Package results reads the JUnit reports of suite runs (as `sonobuoy
// retrieve` gives them, or the bare XML) and compares them: one matrix of
// cases by run, and the difference between two runs of one cluster. It is
// pure: files in, tables out.
package results

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/netpol-conformance/netpol-conformance/profiles"
	"github.com/netpol-conformance/netpol-conformance/record"
)

// JUnitFile is the report the suite writes (plugin.yaml's result-files).
const JUnitFile = "netpol-conformance-junit.xml"

// Case is one testcase of a run.
type Case struct {
	Name    string
	Verdict Verdict
	// Message is the failure or skip message: for a known deviation, what
	// the profile knows.
	Message string
	// Detail is what the case observed when it departed from the spec:
	// expected, observed and diff tables with the model's explanation.
	Detail string
	// OwnReadings are the cells where the cluster read what the spec
	// leaves open its own way.
	OwnReadings []string
	// TimeToEnforce is the longest time to enforce of the case's stages;
	// zero when the report does not say.
	TimeToEnforce time.Duration
	// TimeToRemove is how long the removal of the case's policies and
	// labels took to be enforced, back to no policy at all (the reset that
	// ends each case; in older reports, the one before it). Zero when the
	// report does not say.
	TimeToRemove time.Duration
}

// Run is one report.
type Run struct {
	// Name labels the run in a matrix: the file name without extensions.
	Name   string
	Source string
	// Cases in report order.
	Cases []Case
	// Properties holds the run's metadata (see Metadata), keyed without
	// the "netpol-conformance." prefix; empty for older reports.
	Properties map[string]string
	// Record is the run's record, when the report carried its journal.
	Record *record.Run
	byName map[string]int
	// dryRun is set for a JUnit report written without running anything.
	dryRun bool
}

// Case returns the case with that name, or nil.
func (r *Run) Case(name string) *Case {
	if i, ok := r.byName[name]; ok {
		return &r.Cases[i]
	}
	return nil
}

// Counts returns how many cases have each verdict.
func (r *Run) Counts() map[Verdict]int {
	n := map[Verdict]int{}
	for _, c := range r.Cases {
		n[c.Verdict]++
	}
	return n
}

// Bounds on what Load reads: a results tarball is a few MB; anything far
// past these is not a report, and a gzip bomb must not exhaust memory.
const (
	MaxCompressed   = 64 << 20
	MaxUncompressed = 512 << 20
	maxReportFile   = record.MaxJournal
)

// uncompressedLimit is MaxUncompressed; tests lower it.
var uncompressedLimit int64 = MaxUncompressed

// Load reads a run from a results tarball (Sonobuoy's, or the plugin's own)
// or from a bare journal or JUnit XML file. A tarball's journal, the run's
// record, is what it is read from; a JUnit report only when no journal is
// there (reports older than the journal, or another tool's).
func Load(path string) (*Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening report: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > MaxCompressed {
		return nil, fmt.Errorf("%s: %d MiB is larger than any report (limit %d MiB)", path, fi.Size()>>20, MaxCompressed>>20)
	}
	name := filepath.Base(path)
	for _, ext := range []string{".xml", ".jsonl", ".tgz", ".gz", ".tar"} {
		name = strings.TrimSuffix(name, ext)
	}
	var journal, junit []byte
	switch {
	case strings.HasSuffix(path, ".tar.gz") || strings.HasSuffix(path, ".tgz"):
		found := map[string][]byte{}
		budget := uncompressedLimit
		if err := filesFromTarball(io.LimitReader(f, MaxCompressed), "", found, &budget); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		journal, junit = found[record.JournalFile], found[JUnitFile]
		if journal == nil && junit == nil {
			return nil, fmt.Errorf("%s: no %s or %s in the tarball: is it a netpol-conformance run?", path, record.JournalFile, JUnitFile)
		}
	case strings.HasSuffix(path, ".jsonl"):
		journal, err = io.ReadAll(io.LimitReader(f, maxReportFile+1))
	default:
		junit, err = io.ReadAll(io.LimitReader(f, maxReportFile+1))
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(journal) > maxReportFile || len(junit) > maxReportFile {
		return nil, fmt.Errorf("%s: the report is larger than %d MiB", path, maxReportFile>>20)
	}
	var run *Run
	if journal != nil {
		run, err = fromJournal(name, journal)
	} else {
		run, err = Parse(name, bytes.NewReader(junit))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	run.Source = path
	return run, nil
}

// fromJournal reads a journal and classifies it with the built-in profiles.
func fromJournal(name string, data []byte) (*Run, error) {
	rec, err := record.Read(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", record.JournalFile, err)
	}
	cause := "the journal ends before this case: the suite stopped without saying why (see suite.log)"
	if rec.End != nil && rec.End.Interrupted != "" {
		cause = rec.End.Interrupted
	}
	rec.Complete(cause, rec.Start.Started.Time)
	set, err := profiles.Builtin()
	if err != nil {
		return nil, fmt.Errorf("loading the CNI profiles: %w", err)
	}
	return FromRecord(name, rec, set), nil
}

// filesFromTarball collects the journal and the JUnit report from a gzipped
// tar, nested tarballs included (Sonobuoy's holds the plugin's results, and
// the plugin's tarball holds the same files). A file met twice at the same
// depth is an error, not a first-wins guess; budget bounds the bytes read
// after decompression.
func filesFromTarball(r io.Reader, where string, found map[string][]byte, budget *int64) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("%snot a gzipped tarball: %w", where, err)
	}
	tr := tar.NewReader(&budgetReader{r: gz, left: budget})
	here := map[string]string{}
	nested := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%sreading tarball: %w", where, err)
		}
		base := filepath.Base(h.Name)
		switch {
		case base == record.JournalFile || base == JUnitFile:
			if prev, dup := here[base]; dup {
				return fmt.Errorf("%stwo %s in the tarball (%s and %s): which run is it?", where, base, prev, h.Name)
			}
			here[base] = h.Name
			data, err := io.ReadAll(io.LimitReader(tr, maxReportFile+1))
			if err != nil {
				return fmt.Errorf("%sreading %s: %w", where, h.Name, err)
			}
			if len(data) > maxReportFile {
				return fmt.Errorf("%s%s is larger than %d MiB", where, h.Name, maxReportFile>>20)
			}
			if _, ok := found[base]; !ok {
				found[base] = data
			}
		case strings.HasSuffix(h.Name, ".tar.gz"):
			data, err := io.ReadAll(io.LimitReader(tr, MaxCompressed))
			if err != nil {
				return fmt.Errorf("%sreading %s: %w", where, h.Name, err)
			}
			nested[h.Name] = data
		}
	}
	// Files at this depth win over the same files in a nested tarball
	// (Sonobuoy extracts the plugin's tarball next to it). Nested ones are
	// read in name order, each into its own set, and two that both hold a
	// report are two runs: an error, not a guess.
	origin := map[string]string{}
	for _, n := range slices.Sorted(maps.Keys(nested)) {
		inner := map[string][]byte{}
		if err := filesFromTarball(bytes.NewReader(nested[n]), where+n+": ", inner, budget); err != nil {
			continue // not a results tarball
		}
		for base, data := range inner {
			if _, ok := here[base]; ok {
				continue // this level's copy wins
			}
			if prev, ok := origin[base]; ok {
				return fmt.Errorf("%s%s in both %s and %s: which run is it?", where, base, prev, n)
			}
			origin[base] = n
			if _, ok := found[base]; !ok {
				found[base] = data
			}
		}
	}
	return nil
}

// budgetReader fails once more than *left bytes were read through it.
type budgetReader struct {
	r    io.Reader
	left *int64
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if *b.left <= 0 {
		return 0, fmt.Errorf("more than %d MiB after decompression: not a report", uncompressedLimit>>20)
	}
	if int64(len(p)) > *b.left {
		p = p[:*b.left]
	}
	n, err := b.r.Read(p)
	*b.left -= int64(n)
	return n, err
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Properties []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	} `xml:"properties>property"`
	Cases []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name    string  `xml:"name,attr"`
	Status  string  `xml:"status,attr"`
	Time    float64 `xml:"time,attr"`
	Failure *struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	} `xml:"failure"`
	Error *struct {
		Message string `xml:"message,attr"`
	} `xml:"error"`
	Skipped *struct {
		Message string `xml:"message,attr"`
	} `xml:"skipped"`
	SystemOut string `xml:"system-out"`
	SystemErr string `xml:"system-err"`
}

// Parse reads one JUnit report. A report with no testcase is an error,
// never an empty pass: Sonobuoy counts an empty JUnit as passed, and so
// would a careless comparison.
func Parse(name string, r io.Reader) (*Run, error) {
	var doc junitSuites
	dec := xml.NewDecoder(r)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not a JUnit report (want <testsuites>): %w", err)
	}
	// Anything but whitespace and comments after the document is a second
	// report appended to the first: which one is the run?
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("after the report: %w", err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) == 0 {
				continue
			}
		case xml.Comment, xml.ProcInst:
			continue
		}
		return nil, errors.New("more after the </testsuites> that ends the report: two reports in one file")
	}
	run := &Run{Name: name, byName: map[string]int{}, Properties: map[string]string{}}
	timed := false
	for _, s := range doc.Suites {
		for _, p := range s.Properties {
			if key, ok := strings.CutPrefix(p.Name, metadataPrefix); ok {
				run.Properties[key] = p.Value
			}
		}
		for _, jc := range s.Cases {
			if err := consistent(jc); err != nil {
				return nil, err
			}
			timed = timed || jc.Time > 0
			c, ok := caseOf(jc)
			if !ok {
				continue
			}
			if _, dup := run.byName[c.Name]; dup {
				return nil, fmt.Errorf("testcase %q appears twice", c.Name)
			}
			run.byName[c.Name] = len(run.Cases)
			run.Cases = append(run.Cases, c)
		}
	}
	if len(run.Cases) == 0 {
		return nil, errors.New("the report holds no testcase: the suite did not run, which is not a pass")
	}
	if !timed && run.Counts()[Pass] == len(run.Cases) {
		run.dryRun = true
	}
	return run, nil
}

// consistent rejects a testcase that says two things at once: a passing
// status next to a failure, or a failure next to a skip.
func consistent(jc junitCase) error {
	failed := jc.Failure != nil || jc.Error != nil
	switch {
	case failed && (jc.Status == "pass" || jc.Status == "passed"):
		return fmt.Errorf("testcase %q has status %q and a failure: contradictory", jc.Name, jc.Status)
	case failed && jc.Skipped != nil:
		return fmt.Errorf("testcase %q is both failed and skipped: contradictory", jc.Name)
	case jc.Skipped != nil && (jc.Status == "pass" || jc.Status == "passed"):
		return fmt.Errorf("testcase %q has status %q and is skipped: contradictory", jc.Name, jc.Status)
	}
	return nil
}

// Ginkgo's default JUnit names read "[It] NetworkPolicy case [tag, ...]";
// ours read "NetworkPolicy case". Both name the same case.
var (
	nodeType    = regexp.MustCompile(`^\[(It|BeforeSuite|AfterSuite|SynchronizedBeforeSuite|SynchronizedAfterSuite|ReportBeforeSuite|ReportAfterSuite|DeferCleanup[^\]]*)\]( |$)`)
	labels      = regexp.MustCompile(` \[[^\]]*\]$`)
	ownReadings = regexp.MustCompile(implementationDefinedEntry + `[^\n]*\n[^\n]*`)
	enforce     = regexp.MustCompile(`time-to-enforce - [^\n]*\n\s+(?:([^:\n]+): )?((?:[0-9.]+(?:h|ms|m|s|µs|us|ns))+)`)
)

// caseName returns the case a testcase name stands for; ok is false for
// the suite's own setup and report nodes.
func caseName(testcase string) (name string, ok bool) {
	if m := nodeType.FindStringSubmatch(testcase); m != nil {
		if m[1] != "It" {
			return "", false
		}
		testcase = strings.TrimPrefix(testcase, m[0])
	}
	return strings.TrimPrefix(labels.ReplaceAllString(testcase, ""), "NetworkPolicy "), true
}

func caseOf(jc junitCase) (Case, bool) {
	name, ok := caseName(jc.Name)
	if !ok {
		return Case{}, false
	}
	c := Case{Name: name, Verdict: Pass}
	switch {
	case jc.Failure != nil:
		// Ours: a one-line message and the detail in the body. Older
		// reports (Ginkgo's own): the whole failure in the message, the
		// body the same with Ginkgo's decorations.
		c.Verdict, c.Detail = Fail, firstNonEmpty(jc.Failure.Text, jc.Failure.Message)
		if strings.Contains(strings.TrimSpace(jc.Failure.Message), "\n") {
			c.Detail = strings.TrimSpace(jc.Failure.Message)
		}
		c.Message, _, _ = strings.Cut(strings.TrimPrefix(firstNonEmpty(jc.Failure.Message, jc.Failure.Text), DepartureHeader+"\n"), "\n")
	case jc.Error != nil:
		c.Verdict, c.Message = Fail, jc.Error.Message
	case jc.Skipped != nil || jc.Status == "skipped":
		c.Verdict = Skipped
		if jc.Skipped != nil {
			c.Message = jc.Skipped.Message
		}
	}
	c.OwnReadings = ownReadings.FindAllString(jc.SystemErr, -1)
	for i, r := range c.OwnReadings {
		c.OwnReadings[i] = strings.TrimSpace(r[strings.Index(r, "\n"):])
	}
	// A report the suite classified says the class in the status; one
	// from elsewhere (Ginkgo's own JUnit) gets what its outcome says.
	if isVerdict(jc.Status) {
		c.Verdict = Verdict(jc.Status)
		if c.Detail == "" && (c.Verdict == KnownDeviation || c.Verdict == ImplementationDefined) {
			c.Detail = jc.SystemOut
		}
	} else if c.Verdict == Pass && len(c.OwnReadings) > 0 {
		c.Verdict = ImplementationDefined
	}
	for _, m := range enforce.FindAllStringSubmatch(jc.SystemErr, -1) {
		d, err := time.ParseDuration(m[2])
		switch {
		case err != nil:
		case m[1] == "reset":
			c.TimeToRemove = d
		case d > c.TimeToEnforce:
			c.TimeToEnforce = d
		}
	}
	return c, true
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// Unusable is the error of a report that cannot be compared: it exists and
// parses, but says nothing about a cluster's enforcement.
type Unusable struct {
	Source, Reason string
}

func (u *Unusable) Error() string { return fmt.Sprintf("%s: not a usable run: %s", u.Source, u.Reason) }

// Usable returns an *Unusable error for a run that tested nothing: one that
// never reached the cluster, a dry run, one holding only the enforcement
// check, or one whose every case was skipped although NetworkPolicy was
// found enforced. A run on a cluster that enforces nothing (the check
// failed, every case skipped) is usable: that is its finding.
func (r *Run) Usable() error {
	unusable := func(format string, a ...any) error {
		return &Unusable{Source: r.Source, Reason: fmt.Sprintf(format, a...)}
	}
	if r.Properties["reachedCluster"] == "false" ||
		r.Properties["cniEvidence"] == "the suite did not reach the cluster" && r.Properties["kubernetesVersion"] == "" && len(r.Properties) > 0 {
		return unusable("the suite never reached the cluster (%s)", r.firstFailure())
	}
	if r.dryRun {
		return unusable("a dry run: every testcase passed in no time, written before any spec ran")
	}
	enforcement := r.Case(record.EnforcementCheck)
	cases, skipped := 0, 0
	for _, c := range r.Cases {
		if record.IsCheck(c.Name) {
			continue
		}
		cases++
		if c.Verdict == Skipped {
			skipped++
		}
	}
	switch {
	case cases == 0:
		return unusable("it holds only the enforcement check, no case")
	case skipped == cases && (enforcement == nil || !enforcement.Verdict.Failing(false)):
		return unusable("all %d cases were skipped (%s)", cases, r.Cases[len(r.Cases)-1].Message)
	}
	return nil
}

func (r *Run) firstFailure() string {
	for _, c := range r.Cases {
		if c.Verdict.Failing(false) && c.Message != "" {
			return c.Message
		}
	}
	return "no case says why"
}

// Strict reports whether the run was strict: known deviations fail it.
func (r *Run) Strict() bool { return r.Properties["strict"] == "true" }
