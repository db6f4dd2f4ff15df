package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/netpol-conformance/netpol-conformance/localcluster"
	"github.com/netpol-conformance/netpol-conformance/localcluster/debpkg"
	"github.com/netpol-conformance/netpol-conformance/localcluster/enforcer"
)

const modulePath = "github.com/netpol-conformance/netpol-conformance"

func newLocalCommand() *cobra.Command {
	var (
		stateDir      string
		leakInjection bool
		nodes         int
	)
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run a real cluster of one to four nodes on this machine with a chosen NetworkPolicy enforcer",
		Long: `local runs etcd, the Kubernetes control plane, containerd, kubelet, kube-proxy and a
NetworkPolicy enforcer as host processes (Linux, root); with --nodes 2 to 4
each node's containerd, kubelet, kube-proxy and enforcer run in Linux
namespaces of their own. See docs/local-cluster.md and docs/multi-node.md.`,
	}
	cmd.PersistentFlags().StringVar(&stateDir, "state-dir", "", "directory for all state, logs and pid files (default <repo>/_output/local)")
	cluster := func(cmd *cobra.Command, enf string) (*localcluster.Cluster, error) {
		root, err := repoRoot()
		if err != nil {
			return nil, err
		}
		return localcluster.New(localcluster.Options{RepoRoot: root, StateDir: stateDir, Enforcer: enf, LeakInjection: leakInjection, Nodes: nodes, Out: cmd.OutOrStdout()})
	}

	var enf string
	up := &cobra.Command{
		Use:   "up",
		Short: "Bring the cluster up (reuses a healthy one)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Geteuid() != 0 {
				return errors.New("local up must run as root: it starts kubelet and containerd and changes routes and netfilter")
			}
			c, err := cluster(cmd, enf)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := c.Up(ctx); err != nil {
				return fmt.Errorf("local up: %w\n(run `netpol-conformance local down` to clean up)", err)
			}
			return nil
		},
	}
	up.Flags().StringVar(&enf, "enforcer", "kube-router", fmt.Sprintf("NetworkPolicy enforcer: one of %s", strings.Join(enforcer.Names(), ", ")))
	nodesFlag := func(c *cobra.Command) {
		c.Flags().IntVar(&nodes, "nodes", 1, fmt.Sprintf("how many nodes: 1 is this host itself; 2 to %d are node namespaces on a fabric of their own (every enforcer)", localcluster.MaxNodes))
	}
	nodesFlag(up)
	up.Flags().BoolVar(&leakInjection, "leak-injection", false, "run the enforcer so that `local leak` can inject a fault ahead of it (calico only; for measuring the suite, not for judging the enforcer)")

	down := &cobra.Command{
		Use:   "down",
		Short: "Stop the cluster and undo every host change, then check the host is as before",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cluster(cmd, "")
			if err != nil {
				return err
			}
			return c.Down(context.Background())
		},
	}

	status := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster's components, their pids and memory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cluster(cmd, "")
			if err != nil {
				return err
			}
			st, err := c.Status()
			if err != nil {
				return err
			}
			if len(st.Components) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no local cluster")
				return errors.New("no local cluster")
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "COMPONENT\tPID\tSTATE\tRSS")
			var total int64
			for _, cs := range st.Components {
				state := "exited"
				if cs.Running {
					state = "running"
				}
				total += cs.RSSBytes
				fmt.Fprintf(w, "%s\t%d\t%s\t%d MiB\n", cs.Name, cs.Pid, state, cs.RSSBytes>>20)
			}
			fmt.Fprintf(w, "total\t\t\t%d MiB\n", total>>20)
			_ = w.Flush()
			fmt.Fprintf(cmd.OutOrStdout(), "enforcer: %s\nkubeconfig: %s\n", st.Enforcer, st.Kubeconfig)
			if !st.Up {
				return errors.New("cluster is not fully up")
			}
			return nil
		},
	}

	kubeconfig := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print the path of the cluster's admin kubeconfig",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cluster(cmd, "")
			if err != nil {
				return err
			}
			if _, err := os.Stat(c.KubeconfigPath()); err != nil {
				return fmt.Errorf("no kubeconfig yet: %w", err)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), c.KubeconfigPath())
			return err
		},
	}
	var loadArchive string
	loadImages := &cobra.Command{
		Use:   "load-images",
		Short: "Build the plugin image and Sonobuoy's image (in Go, no image builder) and load both into the cluster",
		Long: `load-images compiles netpol-conformance and the suite into _output/image/, builds
the image the Dockerfile's final stage describes, in Go, as ` + localcluster.PluginImage + `, builds Sonobuoy
` + localcluster.SonobuoyVersion + ` from its Go module into _output/bin/sonobuoy and its image
` + localcluster.SonobuoyImage + `, and imports both images into the running cluster's containerd.
With --plugin-archive, the plugin image is that docker-archive instead (as
'local build-image' writes it), checked to be the plugin image.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cluster(cmd, "")
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ref, err := c.LoadImages(ctx, loadArchive)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), ref)
			return err
		},
	}
	loadImages.Flags().StringVar(&loadArchive, "plugin-archive", "", "docker-archive of the plugin image to load instead of building it in Go")

	var (
		buildPlatform string
		buildOut      string
	)
	buildImage := &cobra.Command{
		Use:   "build-image",
		Short: "Build the repository's Dockerfile here, as 'docker build .' would, with no Docker engine or registry",
		Long: `build-image builds the Dockerfile at the repository root with buildah (installed from
apt when missing), from a Go builder image it assembles from this machine's
own Go toolchain (the BUILDER build argument; no registry is needed to pull
golang:1.26), for --platform. It writes the image as a docker-archive to --out,
checks that it holds the plugin image (its three static binaries, built for
the platform, non-root, the entrypoint), and prints the archive's path. Load it
into the local cluster with 'local run --plugin-archive' or
'local load-images --plugin-archive'. Needs root (buildah's storage).`,
		Example: `  sudo netpol-conformance local build-image
  sudo netpol-conformance local build-image --platform linux/arm64 --out arm64.tar`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Geteuid() != 0 {
				return errors.New("local build-image must run as root: buildah keeps its images in /var/lib/containers")
			}
			c, err := cluster(cmd, "")
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			archive, err := c.BuildDockerfileImage(ctx, buildPlatform, buildOut)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), archive)
			return err
		},
	}
	buildImage.Flags().StringVar(&buildPlatform, "platform", "linux/"+runtime.GOARCH, "target platform: linux/amd64 or linux/arm64")
	buildImage.Flags().StringVar(&buildOut, "out", "", "the docker-archive to write (default <repo>/_output/image/netpol-conformance-ARCH.tar)")

	var toolsInstall bool
	tools := &cobra.Command{
		Use:   "tools [USE...]",
		Short: "List the external tools the project runs (Debian packages), or install them",
		Long: `tools prints every external tool the project runs, as the Debian package that
provides it, what it is for and whether it is installed: the one list
(localcluster/debpkg) each command installs from on first use. With
--install, it installs what the given uses need (every use when none is
given) with apt-get. Uses: ` + strings.Join(debpkg.UseNames(), ", ") + `.`,
		Example: `  netpol-conformance local tools
  sudo netpol-conformance local tools --install browser-test`,
		ValidArgs: debpkg.UseNames(),
		RunE: func(cmd *cobra.Command, args []string) error {
			uses := debpkg.Uses
			if len(args) > 0 {
				uses = nil
				for _, a := range args {
					u, err := debpkg.ParseUse(a)
					if err != nil {
						return err
					}
					uses = append(uses, u)
				}
			}
			if toolsInstall {
				for _, u := range uses {
					if err := debpkg.EnsureFor(u, cmd.ErrOrStderr()); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PACKAGE\tUSE\tINSTALLED\tPROVIDES")
			for _, p := range debpkg.Packages {
				var mine []string
				for _, u := range p.Uses {
					if slices.Contains(uses, u) {
						mine = append(mine, string(u))
					}
				}
				if len(mine) == 0 {
					continue
				}
				installed := "yes"
				if len(debpkg.Missing([]string{p.Name})) > 0 {
					installed = "no"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, strings.Join(mine, ","), installed, p.Provides)
			}
			return tw.Flush()
		},
	}
	tools.Flags().BoolVar(&toolsInstall, "install", false, "install what is missing (root)")
	buildSonobuoy := &cobra.Command{
		Use:   "build-sonobuoy",
		Short: "Build the pinned Sonobuoy CLI from its Go module and print its path",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cluster(cmd, "")
			if err != nil {
				return err
			}
			bin, err := c.BuildSonobuoy(context.Background())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), bin)
			return err
		},
	}
	var cniEnf string
	cni := &cobra.Command{
		Use:   "cni",
		Short: "Print the running cluster's enforcer as NETPOL_CNI takes it (NAME@VERSION)",
		Long: `The local cluster runs its enforcer as a host process, which the suite's CNI
detection cannot see in the cluster's objects; pass this to the plugin:
  sonobuoy run --plugin plugin.yaml --plugin-env netpol-conformance.NETPOL_CNI=$(netpol-conformance local cni)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name := cniEnf
			if name == "" {
				c, err := cluster(cmd, "")
				if err != nil {
					return err
				}
				st, err := c.Status()
				if err != nil {
					return err
				}
				if st.Enforcer == "" {
					return errors.New("no local cluster (or name one with --enforcer)")
				}
				name = st.Enforcer
			}
			d, err := enforcer.Get(name)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), enforcer.CNI(d))
			return nil
		},
	}
	cni.Flags().StringVar(&cniEnf, "enforcer", "", "the enforcer to name instead of the running cluster's")
	enforcers := &cobra.Command{
		Use:   "enforcers",
		Short: "List the enforcers `up` runs (on one node and on several), one per line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, n := range enforcer.Names() {
				fmt.Fprintln(cmd.OutOrStdout(), n)
			}
			return nil
		},
	}
	var buildEnf string
	build := &cobra.Command{
		Use:   "build",
		Short: "Build (or reuse) the binaries `up --enforcer` needs, starting nothing",
		Long: `build builds the Kubernetes components, the enforcer and the images' binaries as
` + "`up`" + ` does, into <repo>/_output/bin with a stamp per build, and starts nothing: a slow
enforcer build can run while another cluster is up.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cluster(cmd, buildEnf)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return c.Build(ctx)
		},
	}
	build.Flags().StringVar(&buildEnf, "enforcer", "kube-router", fmt.Sprintf("NetworkPolicy enforcer: one of %s", strings.Join(enforcer.Names(), ", ")))
	var (
		runEnf, runOut string
		runKeep        bool
		runWait        time.Duration
		runFlags       []string
		runArchive     string
	)
	run := &cobra.Command{
		Use:   "run",
		Short: "Bring the cluster up, run the suite through Sonobuoy as a user would, print the results, tear it down",
		Long: `run is the whole job on this machine: it builds what is missing, brings the local
cluster up with --enforcer, loads the plugin and Sonobuoy images, runs
'sonobuoy run --plugin plugin.yaml', prints the plugin's progress case by case
until it completes, retrieves the results into --out, prints
'sonobuoy results', deletes the run, and brings the cluster down (unless
--keep), proving the host is as before. It exits 0 when the plugin passed, 3
when its result is failed (a departure from the spec, or nothing enforced)
and everything else worked, 1 when anything else went wrong. Linux and root.`,
		Example: `  sudo netpol-conformance local run --enforcer kube-network-policies
  sudo netpol-conformance local run --enforcer calico --sonobuoy-flag=--plugin-env=netpol-conformance.NETPOL_TAGS=ipblock`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if os.Geteuid() != 0 {
				return errors.New("local run must run as root: it brings the local cluster up")
			}
			drv, err := enforcer.Get(runEnf)
			if err != nil {
				return err
			}
			c, err := cluster(cmd, runEnf)
			if err != nil {
				return err
			}
			// Never tear down what this command did not bring up.
			if live := c.LiveComponents(); len(live) > 0 {
				return fmt.Errorf("a local cluster is already running in %s (%s): `local down` it first, or give local run another --state-dir", c.StateDir(), strings.Join(live, ", "))
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
			defer stop()
			if !runKeep {
				defer func() {
					if derr := c.Down(context.Background()); derr != nil {
						// Exit 1, not the plugin's 3: the host is not as before.
						err = &ExitError{Code: 1, Err: errors.Join(err, fmt.Errorf("local down: %w", derr))}
					}
				}()
			}
			if err := c.Up(ctx); err != nil {
				return fmt.Errorf("local up: %w", err)
			}
			pluginImage, err := c.LoadImages(ctx, runArchive)
			if err != nil {
				return err
			}
			sonobuoy, err := c.BuildSonobuoy(ctx)
			if err != nil {
				return err
			}
			out := runOut
			if out == "" {
				root, err := repoRoot()
				if err != nil {
					return err
				}
				out = filepath.Join(root, "_output", "sonobuoy", runEnf)
			}
			sr := localcluster.SonobuoyRun{
				Sonobuoy: sonobuoy, Kubeconfig: c.KubeconfigPath(), PluginFile: c.PluginFile(),
				Args: runFlags, OutDir: out, Wait: runWait, Poll: 5 * time.Second, Out: cmd.OutOrStdout(),
			}
			if runArchive != "" {
				// The one image knob a user gives: the agent pods run the
				// plugin pod's own image.
				sr.PluginImage = pluginImage
			}
			if _, visible := drv.(enforcer.Visible); !visible {
				sr.CNI = enforcer.CNI(drv)
			}
			res, err := sr.Run(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "plugin %s: %s; results in %s\n", localcluster.PluginName, res.Status, res.Tarball)
			if res.Status != "passed" {
				return &ExitError{Code: ExitPluginFailed, Err: fmt.Errorf("the plugin's result is %s: see `sonobuoy results %s --mode detailed`", res.Status, res.Tarball)}
			}
			return nil
		},
	}
	run.Flags().StringVar(&runEnf, "enforcer", "kube-router", fmt.Sprintf("NetworkPolicy enforcer: one of %s", strings.Join(enforcer.Names(), ", ")))
	nodesFlag(run)
	run.Flags().StringVar(&runOut, "out", "", "directory for the retrieved results (default <repo>/_output/sonobuoy/ENFORCER)")
	run.Flags().BoolVar(&runKeep, "keep", false, "leave the cluster up afterwards")
	run.Flags().DurationVar(&runWait, "wait", time.Hour, "bound on the Sonobuoy run")
	run.Flags().StringVar(&runArchive, "plugin-archive", "", "run the plugin image in this docker-archive (as 'local build-image' writes it), given to sonobuoy as --plugin-image only, instead of building it in Go")
	run.Flags().StringArrayVar(&runFlags, "sonobuoy-flag", nil, "extra flag of sonobuoy run, e.g. --sonobuoy-flag=--plugin-env=netpol-conformance.NETPOL_TAGS=ipblock (repeatable)")

	var leak localcluster.Leak
	var leakPort string
	leakCmd := &cobra.Command{
		Use:   "leak",
		Short: "Inject a fault: let a random share of new pod flows through, ahead of the enforcer",
		Long: `leak inserts, first in the enforcer's iptables chain, one rule that accepts
--percent of the new flows it matches whatever the policies say, replacing any
leak injected before; --percent 0 removes it, and so does 'local down'. It is
the fault the suite's leak statistics are measured against
(docs/reliability.md), and needs a cluster brought up with
'local up --enforcer calico --leak-injection'.`,
		Example: `  netpol-conformance local leak --percent 10 --from 10.244.0.5 --to 10.244.0.7 --port 80/TCP
  netpol-conformance local leak --percent 0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("percent") {
				return errors.New("leak: --percent is required (0 removes the leak)")
			}
			if leakPort != "" {
				port, proto, ok := strings.Cut(leakPort, "/")
				n, err := strconv.Atoi(port)
				if !ok || err != nil {
					return fmt.Errorf("leak: --port %q: want PORT/PROTOCOL, e.g. 80/TCP", leakPort)
				}
				leak.Port, leak.Protocol = n, proto
			}
			c, err := cluster(cmd, "")
			if err != nil {
				return err
			}
			return c.InjectLeak(cmd.Context(), leak)
		},
	}
	leakCmd.Flags().IntVar(&leak.Percent, "percent", 0, "share of the matching new flows let through, 0 to 100 (0 removes the leak)")
	leakCmd.Flags().StringVar(&leak.From, "from", "", "only flows from this pod address (default: any pod)")
	leakCmd.Flags().StringVar(&leak.To, "to", "", "only flows to this pod address (default: any pod)")
	leakCmd.Flags().StringVar(&leakPort, "port", "", "only flows to this PORT/PROTOCOL, TCP or UDP (default: any)")

	cmd.AddCommand(up, run, down, status, kubeconfig, loadImages, buildImage, buildSonobuoy, build, cni, enforcers, leakCmd, tools)
	return cmd
}

// repoRoot finds the netpol-conformance source tree from the working
// directory: the cluster is built from the Kubernetes version its go.mod pins.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if f, err := os.Open(filepath.Join(dir, "go.mod")); err == nil {
			sc := bufio.NewScanner(f)
			sc.Scan()
			f.Close()
			if strings.TrimSpace(strings.TrimPrefix(sc.Text(), "module")) == modulePath {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run `local` inside the netpol-conformance source tree: it builds Kubernetes from the version its go.mod pins")
		}
		dir = parent
	}
}
