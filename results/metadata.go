package results

import (
	"fmt"
	"time"

	"github.com/onsi/ginkgo/v2/reporters"

	"github.com/netpol-conformance/netpol-conformance/cni"
)

// MetadataFile is written next to the JUnit report.
const MetadataFile = "report.json"

// metadataPrefix names the JUnit suite properties Metadata adds.
const metadataPrefix = "netpol-conformance."

// Metadata says what a run ran against, so reports can be told apart and
// joined: written as report.json and as JUnit suite properties.
type Metadata struct {
	SchemaVersion     string `json:"schemaVersion"`
	RunID             string `json:"runID,omitempty"`
	SuiteVersion      string `json:"suiteVersion"`
	KubernetesVersion string `json:"kubernetesVersion"`
	Nodes             int    `json:"nodes"`
	// PodNodes is how many nodes the suite's pods ran on: one means no
	// cross-node path was probed. Zero when no case recorded placement.
	PodNodes      int    `json:"podNodes"`
	CaseSetDigest string `json:"caseSetDigest"`
	// CNI is the NetworkPolicy enforcer the run was read against.
	CNI      cni.Detection `json:"cni"`
	Started  time.Time     `json:"started"`
	Finished time.Time     `json:"finished"`
	// Strict is set when known deviations fail the run.
	Strict bool `json:"strict"`
	// ReachedCluster is set once the suite read the cluster's version,
	// nodes and CNI: a run that never did tested nothing.
	ReachedCluster bool `json:"reachedCluster"`
	// Complete is set when the suite recorded the end of its specs; a run
	// that was killed, crashed or timed out is incomplete.
	Complete bool `json:"complete"`
	// Verdicts counts the cases of each verdict class.
	Verdicts map[Verdict]int `json:"verdicts"`
}

// MetadataSchemaVersion versions report.json.
const MetadataSchemaVersion = "netpol-conformance.report/v1"

func (m Metadata) properties() []reporters.JUnitProperty {
	ps := []reporters.JUnitProperty{
		{Name: metadataPrefix + "suiteVersion", Value: m.SuiteVersion},
		{Name: metadataPrefix + "kubernetesVersion", Value: m.KubernetesVersion},
		{Name: metadataPrefix + "nodes", Value: fmt.Sprint(m.Nodes)},
		{Name: metadataPrefix + "podNodes", Value: fmt.Sprint(m.PodNodes)},
		{Name: metadataPrefix + "caseSetDigest", Value: m.CaseSetDigest},
		{Name: metadataPrefix + "cni", Value: m.CNI.Name},
		{Name: metadataPrefix + "cniVersion", Value: m.CNI.Version},
		{Name: metadataPrefix + "cniProvider", Value: m.CNI.Provider},
		{Name: metadataPrefix + "cniEvidence", Value: m.CNI.Evidence},
		{Name: metadataPrefix + "strict", Value: fmt.Sprint(m.Strict)},
		{Name: metadataPrefix + "runID", Value: m.RunID},
		{Name: metadataPrefix + "reachedCluster", Value: fmt.Sprint(m.ReachedCluster)},
		{Name: metadataPrefix + "complete", Value: fmt.Sprint(m.Complete)},
		{Name: metadataPrefix + "started", Value: m.Started.UTC().Format(time.RFC3339)},
		{Name: metadataPrefix + "finished", Value: m.Finished.UTC().Format(time.RFC3339)},
	}
	for _, v := range Verdicts {
		ps = append(ps, reporters.JUnitProperty{Name: metadataPrefix + "verdicts." + string(v), Value: fmt.Sprint(m.Verdicts[v])})
	}
	return ps
}
