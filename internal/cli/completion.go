package cli

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netpol-conformance/netpol-conformance/cases"
)

// completeCases completes case names from the built-in table (`expect`'s
// arguments, `explain --case`).
func completeCases(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
	set, err := cases.Builtin()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var names []string
	for _, c := range set.Cases() {
		if strings.HasPrefix(c.Name, prefix) {
			names = append(names, c.Name+"\t"+c.Family)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// completeTags completes the table's tags and families (`list --tag`).
func completeTags(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
	set, err := cases.Builtin()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var tags []string
	for _, c := range set.Cases() {
		for _, t := range append([]string{c.Family}, c.Tags...) {
			if strings.HasPrefix(t, prefix) && !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
	}
	slices.Sort(tags)
	return tags, cobra.ShellCompDirectiveNoFileComp
}
