package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/onsi/ginkgo/v2/types"
	"github.com/spf13/cobra"
)

// colourMarks are the {{red}}-style marks in Ginkgo's error messages.
var colourMarks = regexp.MustCompile(`\{\{/?[a-z-]*\}\}`)

func newListCommand() *cobra.Command {
	var (
		sf       scenarioFlags
		tags     []string
		tagsExpr string
		output   string
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
			// The expression NETPOL_TAGS takes: Ginkgo's label filter over
			// each case's family and tags, as the suite labels its specs.
			filter := func([]string) bool { return true }
			if tagsExpr != "" {
				if filter, err = types.ParseLabelFilter(tagsExpr); err != nil {
					// Ginkgo's error is coloured for a terminal: say it plainly.
					var ge types.GinkgoError
					if errors.As(err, &ge) {
						msg := colourMarks.ReplaceAllString(strings.TrimSpace(ge.Message), "")
						return fmt.Errorf("--tags %q: %s: %s", tagsExpr, ge.Heading, strings.ReplaceAll(msg, "\n", "; "))
					}
					return fmt.Errorf("--tags %q: %w", tagsExpr, err)
				}
			}
			var entries []entry
			for _, c := range set.Cases() {
				labels := append([]string{c.Family}, c.Tags...)
				if !hasAllTags(labels, tags) || !filter(labels) {
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
	cmd.Flags().StringVar(&tagsExpr, "tags", "", `only cases this tag expression selects, as NETPOL_TAGS does (e.g. "ingress && !sctp")`)
	_ = cmd.RegisterFlagCompletionFunc("tag", completeTags)
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
