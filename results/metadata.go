package results

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/onsi/ginkgo/v2/reporters"
)

// MetadataFile is written next to the JUnit report.
const MetadataFile = "report.json"

// metadataPrefix names the JUnit suite properties Metadata adds.
const metadataPrefix = "netpol-conformance."

// Metadata says what a run ran against, so reports can be told apart and
// joined: written as report.json and as JUnit suite properties.
type Metadata struct {
	SchemaVersion     string    `json:"schemaVersion"`
	SuiteVersion      string    `json:"suiteVersion"`
	KubernetesVersion string    `json:"kubernetesVersion"`
	Nodes             int       `json:"nodes"`
	CaseSetDigest     string    `json:"caseSetDigest"`
	Started           time.Time `json:"started"`
	Finished          time.Time `json:"finished"`
}

// MetadataSchemaVersion versions report.json.
const MetadataSchemaVersion = "netpol-conformance.report/v1"

func (m Metadata) properties() []reporters.JUnitProperty {
	return []reporters.JUnitProperty{
		{Name: metadataPrefix + "suiteVersion", Value: m.SuiteVersion},
		{Name: metadataPrefix + "kubernetesVersion", Value: m.KubernetesVersion},
		{Name: metadataPrefix + "nodes", Value: fmt.Sprint(m.Nodes)},
		{Name: metadataPrefix + "caseSetDigest", Value: m.CaseSetDigest},
		{Name: metadataPrefix + "started", Value: m.Started.UTC().Format(time.RFC3339)},
		{Name: metadataPrefix + "finished", Value: m.Finished.UTC().Format(time.RFC3339)},
	}
}

// WriteMetadata writes report.json next to the JUnit report and adds the
// same facts to its suite properties.
func WriteMetadata(junitPath string, m Metadata) error {
	m.SchemaVersion = MetadataSchemaVersion
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding run metadata: %w", err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(junitPath), MetadataFile), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing run metadata: %w", err)
	}
	data, err := os.ReadFile(junitPath)
	if err != nil {
		return fmt.Errorf("reading the JUnit report: %w", err)
	}
	var doc reporters.JUnitTestSuites
	if err := xml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("parsing the JUnit report %s: %w", junitPath, err)
	}
	for i := range doc.TestSuites {
		doc.TestSuites[i].Properties.Properties = append(doc.TestSuites[i].Properties.Properties, m.properties()...)
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the JUnit report: %w", err)
	}
	return os.WriteFile(junitPath, append([]byte(xml.Header), out...), 0o644)
}
