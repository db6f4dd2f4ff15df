package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/netpol-conformance/netpol-conformance/model"
)

func newExplainCommand() *cobra.Command {
	var (
		sf       scenarioFlags
		caseName string
		stage    int
		output   string
	)
	cmd := &cobra.Command{
		Use:   "explain FROM TO PORT[/PROTOCOL]",
		Short: "Say which policies and rules allow or deny one connection",
		Example: `  netpol-conformance explain y/b x/a 80/TCP --case and-vs-or-one-peer
  netpol-conformance explain shop/web shop/db 5432 -f policies.yaml --topology my-cluster.yaml`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := parseTarget(args[2])
			if err != nil {
				return err
			}
			topo, err := sf.topology()
			if err != nil {
				return err
			}
			var names []string
			if caseName != "" {
				names = []string{caseName}
			}
			selected, err := sf.selectCases(names, topo)
			if err != nil {
				return err
			}
			stages, err := selected[0].Stages(topo)
			if err != nil {
				return err
			}
			if stage < 0 || stage >= len(stages) {
				return fmt.Errorf("--stage %d: case %s has stages 0 (initial) to %d", stage, selected[0].Name, len(stages)-1)
			}
			s := stages[stage]
			m, err := s.Model()
			if err != nil {
				return err
			}
			v, err := m.Evaluate(model.Traffic{From: args[0], To: args[1], Port: key.Port, Protocol: key.Protocol})
			if err != nil {
				return fmt.Errorf("%w (endpoints are ns/pod or an external's name)", err)
			}
			switch output {
			case "text":
				_, err = io.WriteString(cmd.OutOrStdout(), fmt.Sprintf("case %s, %s\n%s", selected[0].Name, s.Name(), v.Explain()))
				return err
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(explainJSON(selected[0].Name, stage, s.Name(), v))
			}
			return nil
		},
	}
	sf.register(cmd)
	addOutputFlag(cmd, &output)
	cmd.Flags().StringVar(&caseName, "case", "", "the case whose policies decide")
	_ = cmd.RegisterFlagCompletionFunc("case", completeCases)
	cmd.Flags().IntVar(&stage, "stage", 0, "stage of a dynamic case: 0 is the initial state, N the state after step N")
	return cmd
}

// explainSchemaVersion versions `explain -o json`.
const explainSchemaVersion = "netpol-conformance.explain/v1"

// ExplainOutput is `explain -o json`: the model's verdict for one
// connection and every reason for it.
type ExplainOutput struct {
	SchemaVersion string `json:"schemaVersion"`
	Case          string `json:"case"`
	Stage         int    `json:"stage"`
	StageName     string `json:"stageName"`
	From          string `json:"from"`
	To            string `json:"to"`
	Port          int32  `json:"port"`
	Protocol      string `json:"protocol"`
	// Allowed is the spec's answer; with implementationDefinedReasons it is
	// the model's reading of what the spec leaves open.
	Allowed                      bool              `json:"allowed"`
	ImplementationDefinedReasons []model.Undefined `json:"implementationDefinedReasons,omitempty"`
	Egress                       SideOutput        `json:"egress"`
	Ingress                      SideOutput        `json:"ingress"`
	// Explanation is the text output's explanation.
	Explanation string `json:"explanation"`
}

// SideOutput is the decision at one end of the connection.
type SideOutput struct {
	// Subject is the pod whose policies decide ("" when the endpoint is not
	// a pod and no NetworkPolicy applies to it).
	Subject string `json:"subject,omitempty"`
	Allowed bool   `json:"allowed"`
	// Isolating are the policies that select the subject for this
	// direction; none means it is not isolated.
	Isolating []string `json:"isolating"`
	// AllowedBy are the rules that allow the connection, each as
	// "ns/name ingress[0] from[1] ports[0]".
	AllowedBy []string `json:"allowedBy"`
	// DecidedBy is the tier that decided: Admin, NetworkPolicy or
	// Baseline; empty when none did and every connection is allowed.
	DecidedBy model.Tier `json:"decidedBy,omitempty"`
	// Chain lists the cluster-wide rules that matched, in order, each as
	// "[Admin cnp/name prio 10 ingress[1]] Pass".
	Chain []string `json:"chain,omitempty"`
}

func explainJSON(caseName string, stage int, stageName string, v model.Verdict) ExplainOutput {
	side := func(s model.Side) SideOutput {
		out := SideOutput{Subject: s.Subject, Allowed: s.Allowed, Isolating: slices.Clone(s.Isolating), AllowedBy: []string{}}
		if out.Isolating == nil {
			out.Isolating = []string{}
		}
		for _, r := range s.AllowedBy {
			out.AllowedBy = append(out.AllowedBy, r.String())
		}
		out.DecidedBy = s.DecidedBy
		for _, d := range s.Chain {
			out.Chain = append(out.Chain, d.String())
		}
		return out
	}
	return ExplainOutput{
		SchemaVersion: explainSchemaVersion, Case: caseName, Stage: stage, StageName: stageName,
		From: v.Traffic.From, To: v.Traffic.To, Port: v.Traffic.Port, Protocol: string(v.Traffic.Protocol),
		Allowed: v.Allowed, ImplementationDefinedReasons: v.ImplementationDefined,
		Egress: side(v.Egress), Ingress: side(v.Ingress), Explanation: v.Explain(),
	}
}
