// Command netpol-agent is the prober agent the suite's pods run: `agent
// serve` answers on the standard ports with the pod's identity, `agent
// probe` probes peers and prints one JSON line per target. It is the agent
// of netpol-conformance alone, without client-go or the e2e framework, so a
// pod's agent stays small (docs/suite.md).
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/netpol-conformance/netpol-conformance/agent/agentcmd"
	"github.com/netpol-conformance/netpol-conformance/internal/version"
)

func main() {
	root := &cobra.Command{
		Use:           "netpol-agent",
		Short:         "The prober agent of netpol-conformance's pods",
		Version:       version.Get(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(agentcmd.New())
	if err := root.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
}
