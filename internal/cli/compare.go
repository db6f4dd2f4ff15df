package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/netpol-conformance/netpol-conformance/cases"
	"github.com/netpol-conformance/netpol-conformance/record"
	"github.com/netpol-conformance/netpol-conformance/results"
	"github.com/netpol-conformance/netpol-conformance/topology"
)

// caseInfo looks cases up in the built-in table, to group and filter rows
// and to show the truth tables each case requires.
func caseInfo() (func(string) results.CaseInfo, error) {
	set, err := cases.Builtin()
	if err != nil {
		return nil, err
	}
	topo := topology.Standard()
	keys, err := tableKeys(topo, nil, nil)
	if err != nil {
		return nil, err
	}
	return func(name string) results.CaseInfo {
		c := set.Case(record.TableCase(name))
		if c == nil {
			if record.IsCheck(name) { // the suite's first specs
				return results.CaseInfo{Family: "enforcement", Tags: []string{"enforcement"}}
			}
			return results.CaseInfo{}
		}
		info := results.CaseInfo{Family: c.Family, Tags: c.Tags}
		var b strings.Builder
		if r, err := expectCase(c, topo, keys); err != nil {
			info.Expected = fmt.Sprintf("the model could not compute this case: %v", err)
		} else if err := writeText(&b, []caseResult{r}); err == nil {
			info.Expected = b.String()
		}
		return info
	}, nil
}

// loadRuns reads reports for compare and diff. A report that cannot be
// read, or that tested nothing, is unusable input (exit 2), never a row of
// passes.
func loadRuns(paths []string) ([]*results.Run, error) {
	var runs []*results.Run
	for _, p := range paths {
		r, err := results.Load(p)
		if err != nil {
			return nil, &ExitError{Code: ExitUnusable, Err: err}
		}
		if err := r.Usable(); err != nil {
			return nil, &ExitError{Code: ExitUnusable, Err: err}
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// Exit codes of compare and diff (and of every command: 1 for any other
// error).
const (
	ExitOK        = 0
	ExitRegressed = 1
	ExitUnusable  = 2
	// ExitPluginFailed is `local run`'s: the plugin ran and failed; any
	// other error of the run (its teardown included) is 1.
	ExitPluginFailed = 3
)

// ExitError carries the process's exit code. Err is printed unless it is
// errRegressed, whose report was printed already.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

func newCompareCommand() *cobra.Command {
	var markdown, html, junit, jsonFile, title, output string
	var strict bool
	cmd := &cobra.Command{
		Use:   "compare REPORT...",
		Short: "Compare runs (result tarballs or JUnit files) in one matrix: Markdown, HTML, JUnit",
		Long: `Lines up the cases of several runs (as 'sonobuoy retrieve' gives them, or the
suite's JUnit file), one column per run: a summary per run (passed, known
deviations, implementation-defined readings, regressions, fixed, skipped, time
to enforce), the cases where the runs disagree first, then every case by
family, each cell the verdict class and the time to enforce. Each run is named
after its file.

With no file flag the Markdown (-o json: the JSON) goes to stdout. --html writes a self-contained
page (sortable, filterable by tag, each cell linking to its truth-table diff);
--junit writes one test suite per run, failing only on regressions (and on
known deviations with --strict).`,
		Example: `  netpol-conformance compare calico.tar.gz cilium.tar.gz last-night.tar.gz > comparison.md
  netpol-conformance compare --markdown comparison.md --html comparison.html --junit comparison.xml runs/*.tar.gz`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			runs, err := loadRuns(args)
			if err != nil {
				return err
			}
			info, err := caseInfo()
			if err != nil {
				return err
			}
			m := results.Compare(runs, info)
			files := markdown != "" || html != "" || junit != "" || jsonFile != ""
			if files && output != "text" {
				return errors.New("-o sets what goes to stdout, and the file flags leave stdout empty: give one or the other")
			}
			if !files {
				if output == "json" {
					return m.JSON(cmd.OutOrStdout())
				}
				_, err = io.WriteString(cmd.OutOrStdout(), m.Markdown())
				return err
			}
			outputs := []struct {
				path  string
				write func(io.Writer) error
			}{
				{markdown, func(w io.Writer) error { _, err := io.WriteString(w, m.Markdown()); return err }},
				{html, func(w io.Writer) error { return m.HTML(w, title) }},
				{junit, func(w io.Writer) error { return m.JUnit(w, strict) }},
				{jsonFile, m.JSON},
			}
			for _, o := range outputs {
				if o.path == "" {
					continue
				}
				if err := writeAtomically(o.path, o.write); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&markdown, "markdown", "", "write the Markdown matrix to this file")
	cmd.Flags().StringVar(&html, "html", "", "write the self-contained HTML page to this file")
	cmd.Flags().StringVar(&junit, "junit", "", "write the comparison as JUnit to this file, for CI")
	cmd.Flags().StringVar(&title, "title", "NetworkPolicy conformance: runs compared", "title of the HTML page")
	cmd.Flags().BoolVar(&strict, "strict", false, "in the JUnit output, fail known deviations too")
	cmd.Flags().StringVar(&jsonFile, "json", "", "write the comparison as JSON ("+results.ComparisonSchemaVersion+") to this file")
	addOutputFlag(cmd, &output)
	return cmd
}

// writeAtomically writes through a temporary file, so a failed write never
// leaves half a report where the last good one was.
func writeAtomically(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

// errRegressed makes `diff` exit non-zero without an extra error line:
// the difference it printed says what regressed.
var errRegressed = fmt.Errorf("the new run regressed")

// Reported says whether err was already told through the command's own
// output, so main need not print it.
func Reported(err error) bool { return errors.Is(err, errRegressed) }

func newDiffCommand() *cobra.Command {
	var (
		threshold time.Duration
		output    string
	)
	cmd := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "What changed between two runs of one cluster; exits 1 when the new run regressed",
		Long: `For nightly jobs: new failures, fixed cases, cases missing from the new run,
and changes in time to enforce larger than --threshold (and than half the old
time). Cases one run has and the other lacks are shown as not run.

Exit codes: 0 no regression; 1 the new run regressed (new failures, cases
that stopped running or that one run lacks; with a strict new run, known
deviations count as failures); 2 unusable input (a file that cannot be read,
a dry run, a run that never reached the cluster, only the enforcement check,
every case skipped, a damaged or doubled report).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			runs, err := loadRuns(args)
			if err != nil {
				return err
			}
			d := results.Diff(runs[0], runs[1], threshold)
			if output == "json" {
				if err := d.JSON(cmd.OutOrStdout(), runs[0], runs[1]); err != nil {
					return err
				}
			} else if _, err := io.WriteString(cmd.OutOrStdout(), d.String()); err != nil {
				return err
			}
			if d.Regressed() {
				return &ExitError{Code: ExitRegressed, Err: errRegressed}
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&threshold, "threshold", time.Second, "smallest change in time to enforce worth reporting")
	addOutputFlag(cmd, &output)
	return cmd
}
