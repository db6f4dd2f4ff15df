package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/netpol-conformance/netpol-conformance/cases"
	"github.com/netpol-conformance/netpol-conformance/results"
)

// familyOf looks cases up in the built-in table, to group rows by family.
func familyOf() (func(string) string, error) {
	set, err := cases.Builtin()
	if err != nil {
		return nil, err
	}
	return func(name string) string {
		if c := set.Case(name); c != nil {
			return c.Family
		}
		if name == "is enforced at all" { // the suite's first spec
			return "enforcement"
		}
		return ""
	}, nil
}

func loadRuns(paths []string) ([]*results.Run, error) {
	var runs []*results.Run
	for _, p := range paths {
		r, err := results.Load(p)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, nil
}

func newCompareCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "compare REPORT...",
		Short: "Compare runs (JUnit files or result tarballs) in one Markdown matrix",
		Long: `Lines up the cases of several runs (as 'sonobuoy retrieve' gives them, or the
suite's JUnit file): a summary per run, the cases where the runs disagree
first, then every case by family, each cell the verdict and the time to
enforce. Each run is named after its file.`,
		Example: `  netpol-conformance compare calico.tar.gz cilium.tar.gz last-night.tar.gz > comparison.md`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			runs, err := loadRuns(args)
			if err != nil {
				return err
			}
			family, err := familyOf()
			if err != nil {
				return err
			}
			md := results.Compare(runs, family).Markdown()
			if out == "" {
				_, err = io.WriteString(cmd.OutOrStdout(), md)
				return err
			}
			if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", out, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the Markdown here instead of stdout")
	return cmd
}

// errRegressed makes `diff` exit non-zero without an extra error line:
// the difference it printed says what regressed.
var errRegressed = fmt.Errorf("the new run regressed")

func newDiffCommand() *cobra.Command {
	var threshold time.Duration
	cmd := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "What changed between two runs of one cluster; exits 1 when the new run regressed",
		Long: `For nightly jobs: new failures, fixed cases, cases missing from the new run,
and changes in time to enforce larger than --threshold (and than half the old
time). Exits 1 on new failures or missing cases, 0 otherwise.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			runs, err := loadRuns(args)
			if err != nil {
				return err
			}
			d := results.Diff(runs[0], runs[1], threshold)
			if _, err := io.WriteString(cmd.OutOrStdout(), d.String()); err != nil {
				return err
			}
			if d.Regressed() {
				return errRegressed
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&threshold, "threshold", time.Second, "smallest change in time to enforce worth reporting")
	return cmd
}
