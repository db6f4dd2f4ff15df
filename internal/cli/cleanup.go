package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/netpol-conformance/netpol-conformance/cluster"
)

func newCleanupCommand() *cobra.Command {
	var kubeconfig, runID string
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Delete every namespace a suite run left behind (all runs, or one with --run-id)",
		Long: `The suite deletes its namespaces when it ends, interrupted or not. A run that
was killed outright leaves them; they carry the label ` + cluster.RunLabel + `,
and this command deletes them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rules := clientcmd.NewDefaultClientConfigLoadingRules()
			rules.ExplicitPath = kubeconfig
			cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
			if err != nil {
				return fmt.Errorf("loading kubeconfig: %w", err)
			}
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return fmt.Errorf("creating a client: %w", err)
			}
			return cluster.DeleteRun(cmd.Context(), client, runID)
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	cmd.Flags().StringVar(&runID, "run-id", "", "delete only this run's namespaces")
	return cmd
}
