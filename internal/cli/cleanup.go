package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/netpol-conformance/netpol-conformance/cluster"
)

// cleanupTimeout bounds the whole cleanup: a stalled API server must not
// hang it.
const cleanupTimeout = 2 * time.Minute

func newCleanupCommand() *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	var runID string
	var all, dryRun bool
	cmd := &cobra.Command{
		Use:   "cleanup (--run-id ID | --all)",
		Short: "Delete the namespaces and cluster-wide policies a killed suite run left behind",
		Long: `The suite deletes its namespaces when it ends, interrupted or not, and the
plugin deletes them after a suite that was killed. A run killed outright
outside the plugin leaves them, and the cluster-wide policies of a case it
was running; they carry the label ` + cluster.RunLabel + `
with the run's id (the suite logs it first thing), and this command lists
and deletes them: one run's with --run-id, every run's with --all (which
would also stop runs in progress). --dry-run only lists.`,
		Example: `  netpol-conformance cleanup --run-id k3x9p
  netpol-conformance cleanup --all --dry-run --context staging`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (runID == "") == !all {
				return errors.New("name what to delete: --run-id ID (the id the run logged) or --all (every run's namespaces, runs in progress included)")
			}
			cfg, err := flags.ToRESTConfig()
			if err != nil {
				return fmt.Errorf("loading the cluster's client config: %w", err)
			}
			if cfg.Timeout == 0 {
				cfg.Timeout = 30 * time.Second
			}
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return fmt.Errorf("creating a client: %w", err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), cleanupTimeout)
			defer cancel()
			names, err := cluster.RunNamespaces(ctx, client, runID)
			if err != nil {
				return err
			}
			dyn, err := dynamic.NewForConfig(cfg)
			if err != nil {
				return fmt.Errorf("creating a dynamic client: %w", err)
			}
			served, err := cluster.DiscoverClusterPolicyAPIs(client.Discovery())
			if err != nil {
				return err
			}
			objs, err := cluster.RunClusterPolicies(ctx, dyn, served, runID)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(names) == 0 && len(objs) == 0 {
				fmt.Fprintln(out, "nothing to delete")
				return nil
			}
			verb := "deleting"
			if dryRun {
				verb = "would delete"
			}
			if len(names) > 0 {
				fmt.Fprintf(out, "%s %d namespaces: %s\n", verb, len(names), strings.Join(names, " "))
			}
			if len(objs) > 0 {
				listed := make([]string, len(objs))
				for i, o := range objs {
					listed[i] = o.String()
				}
				fmt.Fprintf(out, "%s %d cluster-wide policies: %s\n", verb, len(objs), strings.Join(listed, " "))
			}
			if dryRun {
				return nil
			}
			return errors.Join(cluster.DeleteClusterObjects(ctx, dyn, objs), cluster.DeleteNamespaces(ctx, client, names))
		},
	}
	flags.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&runID, "run-id", "", "delete this run's namespaces")
	cmd.Flags().BoolVar(&all, "all", false, "delete every run's namespaces, runs in progress included")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be deleted, delete nothing")
	return cmd
}
