// Package cli holds the netpol-conformance command line: thin cobra
// commands that parse flags and call into the packages that do the work.
package cli

import (
	"github.com/spf13/cobra"

	"github.com/netpol-conformance/netpol-conformance/agent/agentcmd"
)

// NewRootCommand returns the netpol-conformance command with all its
// subcommands attached.
func NewRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:          "netpol-conformance",
		Short:        "Test whether a cluster enforces NetworkPolicy as the spec says",
		SilenceUsage: true,
		// main prints errors, but for those whose output said it all.
		SilenceErrors: true,
	}
	root.AddCommand(
		newExpectCommand(),
		newExplainCommand(),
		newListCommand(),
		newCompareCommand(),
		newDiffCommand(),
		newCleanupCommand(),
		newVersionCommand(),
		newLocalCommand(),
		agentcmd.New(),
		newPluginCommand(),
	)
	return root
}
