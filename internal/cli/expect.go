package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netpol-conformance/netpol-conformance/cases"
	"github.com/netpol-conformance/netpol-conformance/model"
	"github.com/netpol-conformance/netpol-conformance/reachability"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

func newExpectCommand() *cobra.Command {
	var (
		sf        scenarioFlags
		ports     []int32
		protocols []string
		output    string
	)
	cmd := &cobra.Command{
		Use:               "expect [CASE...]",
		ValidArgsFunction: completeCases,
		Short:             "Print the truth tables the spec requires for cases or your own policies",
		Long: `Computes, without a cluster, which connections the NetworkPolicy spec allows
for each named case (every stage of a dynamic case), or for the policies in -f
files, on the standard topology or on yours (--topology). Tables use the
upstream format: rows are sources, columns destinations, "." allowed, "X"
blocked.`,
		Example: `  netpol-conformance expect deny-all-ingress-in-x
  netpol-conformance expect -f my-policies.yaml --topology my-cluster.yaml --port 8080 --protocol TCP
  netpol-conformance expect and-vs-or-one-peer --output json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			topo, err := sf.topology()
			if err != nil {
				return err
			}
			selected, err := sf.selectCases(args, topo)
			if err != nil {
				return err
			}
			keys, err := tableKeys(topo, ports, protocols)
			if err != nil {
				return err
			}
			var results []caseResult
			for _, c := range selected {
				r, err := expectCase(c, topo, keys)
				if err != nil {
					return err
				}
				results = append(results, r)
			}
			switch output {
			case "text":
				return writeText(cmd.OutOrStdout(), results)
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(expectOutput{SchemaVersion: expectSchemaVersion, Cases: results})
			default:
				return fmt.Errorf("--output %q: want text or json", output)
			}
		},
	}
	sf.register(cmd)
	cmd.Flags().Int32SliceVar(&ports, "port", nil, "ports to compute (default: every port the matrix pods serve)")
	cmd.Flags().StringSliceVar(&protocols, "protocol", nil, "protocols to compute: TCP, UDP, SCTP (default: all)")
	addOutputFlag(cmd, &output)
	return cmd
}

// addOutputFlag adds -o/--output (text or json), checked before the
// command runs.
func addOutputFlag(cmd *cobra.Command, output *string) {
	cmd.Flags().StringVarP(output, "output", "o", "text", "output format: text or json")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	prev := cmd.PreRunE
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		if *output != "text" && *output != "json" {
			return fmt.Errorf("--output %q: want text or json", *output)
		}
		if prev != nil {
			return prev(cmd, args)
		}
		return nil
	}
}

// expectSchemaVersion versions the JSON output documented in the README.
const expectSchemaVersion = "netpol-conformance.expect/v1"

type expectOutput struct {
	SchemaVersion string       `json:"schemaVersion"`
	Cases         []caseResult `json:"cases"`
}

type caseResult struct {
	Name        string        `json:"name"`
	Family      string        `json:"family,omitempty"`
	Description string        `json:"description"`
	Tags        []string      `json:"tags,omitempty"`
	Stages      []stageResult `json:"stages"`
}

type stageResult struct {
	Index  int           `json:"index"`
	Name   string        `json:"name"`
	Tables []tableResult `json:"tables"`
	Probes []cellResult  `json:"probes,omitempty"`
}

type tableResult struct {
	Port     int32    `json:"port"`
	Protocol string   `json:"protocol"`
	From     []string `json:"from"`
	To       []string `json:"to"`
	// Grid holds one string per source row, one mark per destination.
	Grid []string `json:"grid"`
	// ImplementationDefined lists the cells the spec leaves open.
	ImplementationDefined []cellResult `json:"implementationDefined,omitempty"`

	table *reachability.Table
}

type cellResult struct {
	From                  string            `json:"from"`
	To                    string            `json:"to"`
	Port                  int32             `json:"port"`
	Protocol              string            `json:"protocol"`
	Allowed               bool              `json:"allowed"`
	ImplementationDefined []model.Undefined `json:"implementationDefinedReasons,omitempty"`
}

func expectCase(c *cases.Case, topo *topology.Topology, keys []reachability.Key) (caseResult, error) {
	r := caseResult{Name: c.Name, Family: c.Family, Description: strings.TrimSpace(c.Description), Tags: c.Tags}
	stages, err := c.Stages(topo)
	if err != nil {
		return r, err
	}
	matrix := topo.MatrixKeys()
	for _, s := range stages {
		m, err := s.Model()
		if err != nil {
			return r, fmt.Errorf("case %s, %s: %w", c.Name, s.Name(), err)
		}
		sr := stageResult{Index: s.Index, Name: s.Name()}
		for _, key := range keys {
			// Tables are for new connections; connections kept open across
			// steps (keepConnections) are implementation-defined and are
			// only reported by the suite.
			t, err := m.Table(key, matrix, false)
			if err != nil {
				return r, fmt.Errorf("case %s, %s: %w", c.Name, s.Name(), err)
			}
			tr := tableResult{Port: key.Port, Protocol: string(key.Protocol), From: t.From, To: t.To, table: t}
			for i, from := range t.From {
				row := make([]byte, len(t.To))
				for j, to := range t.To {
					cell := t.At(i, j)
					row[j] = cell.Outcome.Mark()[0]
					if cell.ImplementationDefined {
						v, _ := m.Evaluate(model.Traffic{From: from, To: to, Port: key.Port, Protocol: key.Protocol})
						tr.ImplementationDefined = append(tr.ImplementationDefined, cellOf(v))
					}
				}
				tr.Grid = append(tr.Grid, string(row))
			}
			sr.Tables = append(sr.Tables, tr)
		}
		for _, p := range s.Probes {
			v, err := m.Evaluate(model.Traffic{From: p.From, To: p.To, Port: p.Port, Protocol: p.Protocol})
			if err != nil {
				return r, fmt.Errorf("case %s, %s: probe: %w", c.Name, s.Name(), err)
			}
			sr.Probes = append(sr.Probes, cellOf(v))
		}
		r.Stages = append(r.Stages, sr)
	}
	return r, nil
}

func cellOf(v model.Verdict) cellResult {
	return cellResult{From: v.Traffic.From, To: v.Traffic.To, Port: v.Traffic.Port, Protocol: string(v.Traffic.Protocol), Allowed: v.Allowed, ImplementationDefined: v.ImplementationDefined}
}

func writeText(w io.Writer, results []caseResult) error {
	var b strings.Builder
	for _, r := range results {
		fmt.Fprintf(&b, "case %s", r.Name)
		if len(r.Tags) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(r.Tags, ", "))
		}
		fmt.Fprintf(&b, "\n  %s\n", r.Description)
		for _, s := range r.Stages {
			if len(r.Stages) > 1 {
				fmt.Fprintf(&b, "\n== %s\n", s.Name)
			}
			for _, t := range s.Tables {
				fmt.Fprintf(&b, "\n%s", t.table)
				if undefined := summarizeUndefined(t.ImplementationDefined); undefined != "" {
					fmt.Fprintf(&b, "implementation-defined (reported, never a failure): %s\n", undefined)
				}
			}
			for _, p := range s.Probes {
				verdict := "blocked"
				if p.Allowed {
					verdict = "allowed"
				}
				fmt.Fprintf(&b, "\nprobe %s -> %s %d/%s: %s", p.From, p.To, p.Port, p.Protocol, verdict)
				if len(p.ImplementationDefined) > 0 {
					fmt.Fprintf(&b, " (implementation-defined: %v)", p.ImplementationDefined)
				}
				b.WriteString("\n")
			}
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// summarizeUndefined keeps the common case short: the diagonal of loopback
// cells is named once, not cell by cell.
func summarizeUndefined(cells []cellResult) string {
	var other []string
	loopbacks := 0
	for _, c := range cells {
		if c.From == c.To && len(c.ImplementationDefined) == 1 && c.ImplementationDefined[0] == model.Loopback {
			loopbacks++
			continue
		}
		other = append(other, fmt.Sprintf("%s->%s %v", c.From, c.To, c.ImplementationDefined))
	}
	var parts []string
	if loopbacks > 0 {
		parts = append(parts, "the diagonal (loopback)")
	}
	return strings.Join(append(parts, other...), "; ")
}
