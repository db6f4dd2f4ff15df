package cli

import (
	"errors"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/netpol-conformance/netpol-conformance/cluster"

	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/netpol-conformance/netpol-conformance/sonobuoy/plugin"
)

func newPluginCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "The Sonobuoy plugin's entrypoint",
	}
	var suite string
	run := &cobra.Command{
		Use:   "run [-- EXTRA-SUITE-FLAGS...]",
		Short: "Run the suite as a Sonobuoy plugin and always leave a JUnit report and the done file",
		Long: `run maps the plugin's environment to the suite's flags, runs the suite, and writes
the JUnit report, a results tarball and the done file into $SONOBUOY_RESULTS_DIR
(default ` + plugin.DefaultResultsDir + `), whatever happens to the suite.

Environment (set with sonobuoy run --plugin-env netpol-conformance.NAME=VALUE):
  ` + plugin.EnvCases + `               regular expression over case names
  ` + plugin.EnvTags + `                tag expression (e.g. "ingress && !sctp")
  ` + plugin.EnvProbeTimeout + `       bound on one probe (e.g. 1s)
  ` + plugin.EnvConvergenceTimeout + ` bound on waiting for enforcement per step (e.g. 30s)
  ` + plugin.EnvProtocols + `           comma-separated subset of TCP,UDP,SCTP
  ` + plugin.EnvAgentImage + `         image of the prober pods
  ` + plugin.EnvGinkgoTimeout + `      bound on the whole suite (default ` + plugin.DefaultGinkgoTimeout.String() + `)
YAML files in $SONOBUOY_CONFIG_DIR (default ` + plugin.DefaultConfigDir + `, the plugin's
ConfigMap) are extra case files.

It exits 0 once the results are written: failing cases are the report's
verdict, not an error of the plugin.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, cfgErr := plugin.ConfigFromEnv(os.Getenv)
			cfg.SuiteBinary = suite
			cfg.ExtraArgs = args
			cfg.Cleanup = cleanupInCluster
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o, err := plugin.Run(ctx, cfg, cfgErr, cmd.OutOrStdout())
			if err != nil {
				return fmt.Errorf("writing the plugin's results: %w", err)
			}
			if o.Synthesized != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "netpol-conformance plugin: reported one failing case: %s\n", o.Synthesized)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "netpol-conformance plugin: %d cases ran, %d skipped\n", o.Ran, o.Skipped)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "netpol-conformance plugin: results in %s\n", o.Tarball)
			return nil
		},
	}
	run.Flags().StringVar(&suite, "suite", plugin.DefaultSuiteBinary, "path of the compiled suite")
	cmd.AddCommand(run)
	return cmd
}

// cleanupInCluster deletes a run's namespaces with the plugin pod's own
// service account; outside a pod there is no cluster to clean.
func cleanupInCluster(ctx context.Context, runID string) ([]string, error) {
	cfg, err := rest.InClusterConfig()
	if errors.Is(err, rest.ErrNotInCluster) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cfg.Timeout = 30 * time.Second
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	names, err := cluster.RunNamespaces(ctx, client, runID)
	if err != nil {
		return nil, err
	}
	return names, cluster.DeleteNamespaces(ctx, client, names)
}
