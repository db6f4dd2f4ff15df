package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newListCommand() *cobra.Command {
	var (
		sf     scenarioFlags
		tags   []string
		output string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the cases with their family and tags",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			topo, err := sf.topology()
			if err != nil {
				return err
			}
			set, err := sf.caseSet(topo)
			if err != nil {
				return err
			}
			type entry struct {
				Name        string   `json:"name"`
				Family      string   `json:"family"`
				Tags        []string `json:"tags"`
				Steps       int      `json:"steps"`
				Pinned      bool     `json:"pinned"`
				Description string   `json:"description"`
			}
			var entries []entry
			for _, c := range set.Cases() {
				if !hasAllTags(append([]string{c.Family}, c.Tags...), tags) {
					continue
				}
				pinned := len(c.Expect) > 0
				for _, s := range c.Steps {
					pinned = pinned || len(s.Expect) > 0
				}
				entries = append(entries, entry{Name: c.Name, Family: c.Family, Tags: c.Tags, Steps: len(c.Steps), Pinned: pinned, Description: strings.TrimSpace(c.Description)})
			}
			switch output {
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(entries)
			case "text":
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "NAME\tFAMILY\tSTEPS\tPINNED\tTAGS")
				for _, e := range entries {
					pinned := ""
					if e.Pinned {
						pinned = "yes"
					}
					fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\n", e.Name, e.Family, e.Steps, pinned, strings.Join(e.Tags, ","))
				}
				if err := w.Flush(); err != nil {
					return err
				}
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "%d cases\n", len(entries))
				return err
			default:
				return fmt.Errorf("--output %q: want text or json", output)
			}
		},
	}
	sf.register(cmd)
	cmd.Flags().StringSliceVar(&tags, "tag", nil, "only cases carrying all these tags (the family counts as a tag)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func hasAllTags(have, want []string) bool {
	for _, t := range want {
		if !slices.Contains(have, t) {
			return false
		}
	}
	return true
}
