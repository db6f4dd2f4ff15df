package cli

import (
	"errors"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
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
` + knobHelp() + `
YAML files in $SONOBUOY_CONFIG_DIR (default ` + plugin.DefaultConfigDir + `, the plugin's
ConfigMap) are extra case files.

It exits 0 once the results are written: failing cases are the report's
verdict, not an error of the plugin.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, cfgErr := plugin.ConfigFromEnv(os.Getenv)
			cfg.SuiteBinary = suite
			cfg.ExtraArgs = args
			cfg.Cleanup = cleanupInCluster
			if cfg.AgentImage == "" || cfg.AgentPullSecrets == "" {
				image, secrets, err := ownImage(cmd.Context())
				switch {
				case err != nil:
					fmt.Fprintf(cmd.OutOrStdout(), "netpol-conformance plugin: cannot read this pod's own image (%v); set %s\n", err, plugin.EnvAgentImage)
				case cfg.AgentImage == "":
					cfg.AgentImage = image
					fmt.Fprintf(cmd.OutOrStdout(), "netpol-conformance plugin: agent pods run this pod's image %s\n", image)
				}
				if err == nil && cfg.AgentPullSecrets == "" {
					cfg.AgentPullSecrets = strings.Join(secrets, ",")
				}
			}
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

// cleanupInCluster deletes a run's namespaces and cluster-wide policies with the plugin pod's own
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
	// A suite killed mid-case leaves that case's cluster-wide policies.
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	served, err := cluster.DiscoverClusterPolicyAPIs(client.Discovery())
	if err != nil {
		return nil, err
	}
	objs, err := cluster.RunClusterPolicies(ctx, dyn, served, runID)
	if err != nil {
		return nil, err
	}
	deleted := slices.Clone(names)
	for _, o := range objs {
		deleted = append(deleted, o.String())
	}
	return deleted, errors.Join(cluster.DeleteClusterObjects(ctx, dyn, objs), cluster.DeleteNamespaces(ctx, client, names))
}

// knobHelp lists the plugin's knobs, from the one list of them.
func knobHelp() string {
	var b strings.Builder
	for _, k := range plugin.Knobs {
		fmt.Fprintf(&b, "  %-28s %s\n", k.Env, k.Help)
	}
	return strings.TrimRight(b.String(), "\n")
}

// pluginContainer is the plugin's container, named by plugin.yaml's
// spec.name.
const pluginContainer = "plugin"

// ownImage reads the image and the image pull secrets of the pod this
// process runs in: the agent pods run the same image, pulled the same way.
func ownImage(ctx context.Context) (string, []string, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return "", nil, err
	}
	cfg.Timeout = 30 * time.Second
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", nil, err
	}
	ns, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	if err != nil {
		return "", nil, fmt.Errorf("reading the pod's namespace: %w", err)
	}
	name, err := os.Hostname()
	if err != nil {
		return "", nil, err
	}
	pod, err := client.CoreV1().Pods(strings.TrimSpace(string(ns))).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", nil, fmt.Errorf("reading the plugin pod %s: %w", name, err)
	}
	var secrets []string
	for _, s := range pod.Spec.ImagePullSecrets {
		secrets = append(secrets, s.Name)
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == pluginContainer {
			return c.Image, secrets, nil
		}
	}
	return "", nil, fmt.Errorf("pod %s has no container %q", name, pluginContainer)
}
