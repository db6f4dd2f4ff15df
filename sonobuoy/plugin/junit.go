package plugin

import (
	"encoding/xml"
	"fmt"
)

// The JUnit subset Sonobuoy's junit result format reads: suites of test
// cases, each passed, failed or skipped. Ginkgo writes <testsuites>; a lone
// <testsuite> root is accepted on reading as other tools write that.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string          `xml:"name,attr"`
	Tests    int             `xml:"tests,attr"`
	Failures int             `xml:"failures,attr"`
	Errors   int             `xml:"errors,attr"`
	Skipped  int             `xml:"skipped,attr"`
	Time     float64         `xml:"time,attr"`
	Cases    []junitTestCase `xml:"testcase"`
}

type junitTestCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Status    string        `xml:"status,attr,omitempty"`
	Time      float64       `xml:"time,attr"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

// failingReport is a report of one failing test case, for runs where the
// suite produced no usable report of its own.
func failingReport(caseName, message, details string) ([]byte, error) {
	doc := junitSuites{
		Tests: 1, Failures: 1,
		Suites: []junitSuite{{
			Name:  "netpol-conformance",
			Tests: 1, Failures: 1,
			Cases: []junitTestCase{{
				Name:      caseName,
				Classname: "netpol-conformance",
				Status:    "failed",
				// Sonobuoy shows the message followed by the body: the
				// body holds only what the message does not say.
				Failure: &junitMessage{Message: message, Type: "failed", Body: details},
			}},
		}},
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding JUnit report: %w", err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}
