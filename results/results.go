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
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
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
	// TimeToRemove is how long the reset before the case took to be
	// enforced: the removal of the previous case's policies and labels,
	// back to no policy at all. Zero when the report does not say.
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
	byName     map[string]int
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

// Load reads a run from a JUnit XML file or from a results tarball holding
// one (Sonobuoy's, or the plugin's own).
func Load(path string) (*Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening report: %w", err)
	}
	defer f.Close()
	var report io.Reader = f
	if strings.HasSuffix(path, ".tar.gz") || strings.HasSuffix(path, ".tgz") {
		data, err := junitFromTarball(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		report = bytes.NewReader(data)
	}
	name := filepath.Base(path)
	for _, ext := range []string{".xml", ".tgz", ".gz", ".tar"} {
		name = strings.TrimSuffix(name, ext)
	}
	run, err := Parse(name, report)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	run.Source = path
	return run, nil
}

// junitFromTarball returns the suite's JUnit file inside a gzipped tar,
// nested tarballs included (Sonobuoy's holds the plugin's results).
func junitFromTarball(r io.Reader) ([]byte, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("not a gzipped tarball: %w", err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("no %s in the tarball: is it a netpol-conformance run?", JUnitFile)
		}
		if err != nil {
			return nil, fmt.Errorf("reading tarball: %w", err)
		}
		switch {
		case filepath.Base(h.Name) == JUnitFile:
			return io.ReadAll(tr)
		case strings.HasSuffix(h.Name, ".tar.gz"):
			if data, err := junitFromTarball(tr); err == nil {
				return data, nil
			}
		}
	}
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
	Name    string `xml:"name,attr"`
	Status  string `xml:"status,attr"`
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
	if err := xml.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("not a JUnit report (want <testsuites>): %w", err)
	}
	run := &Run{Name: name, byName: map[string]int{}, Properties: map[string]string{}}
	for _, s := range doc.Suites {
		for _, p := range s.Properties {
			if key, ok := strings.CutPrefix(p.Name, metadataPrefix); ok {
				run.Properties[key] = p.Value
			}
		}
		for _, jc := range s.Cases {
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
	return run, nil
}

// Ginkgo's default JUnit names read "[It] NetworkPolicy case [tag, ...]";
// ours read "NetworkPolicy case". Both name the same case.
var (
	nodeType    = regexp.MustCompile(`^\[(It|BeforeSuite|AfterSuite|SynchronizedBeforeSuite|SynchronizedAfterSuite|ReportBeforeSuite|ReportAfterSuite|DeferCleanup[^\]]*)\]( |$)`)
	labels      = regexp.MustCompile(` \[[^\]]*\]$`)
	ownReadings = regexp.MustCompile(implementationDefinedEntry + `[^\n]*\n[^\n]*`)
	enforce     = regexp.MustCompile(`time-to-enforce - [^\n]*\n\s+(?:([^:\n]+): )?([0-9.]+(?:ms|s|µs))`)
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
		c.Verdict, c.Detail = Fail, firstNonEmpty(jc.Failure.Message, jc.Failure.Text)
		c.Message, _, _ = strings.Cut(strings.TrimPrefix(c.Detail, DepartureHeader+"\n"), "\n")
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
