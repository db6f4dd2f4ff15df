package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/netpol-conformance/netpol-conformance/model"
)

func newExplainCommand() *cobra.Command {
	var (
		sf       scenarioFlags
		caseName string
		stage    int
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
			_, err = io.WriteString(cmd.OutOrStdout(), fmt.Sprintf("case %s, %s\n%s", selected[0].Name, s.Name(), v.Explain()))
			return err
		},
	}
	sf.register(cmd)
	cmd.Flags().StringVar(&caseName, "case", "", "the case whose policies decide")
	cmd.Flags().IntVar(&stage, "stage", 0, "stage of a dynamic case: 0 is the initial state, N the state after step N")
	return cmd
}
