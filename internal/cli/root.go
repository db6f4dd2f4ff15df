// Package cli holds the netpol-conformance command line: thin cobra
// commands that parse flags and call into the packages that do the work.
package cli

import (
	"github.com/spf13/cobra"
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
		newAgentCommand(),
		newPluginCommand(),
	)
	return root
}
