// Package agentcmd is the in-pod agent's command line, `agent serve` and
// `agent probe`: the same in netpol-conformance and in the small
// netpol-agent binary the prober pods run.
package agentcmd

import (
	"context"
	"encoding/json"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/netpol-conformance/netpol-conformance/agent"
)

// New returns the `agent` command.
func New() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "The in-pod agent: serve connections and probe peers",
	}
	var ports []int
	var protocols []string
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Answer on the given ports and protocols with this pod's namespace/name",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return agent.Serve(ctx, ports, protocols, agent.Identity())
		},
	}
	serve.Flags().IntSliceVar(&ports, "ports", []int{80, 81}, "ports to listen on")
	serve.Flags().StringSliceVar(&protocols, "protocols", []string{agent.TCP}, "protocols to serve: TCP, UDP, SCTP (SCTP is skipped, with a log line, on kernels without it)")

	var to []string
	var timeout time.Duration
	var parallel, udpPortBase int
	probe := &cobra.Command{
		Use:   "probe",
		Short: "Probe every --to target concurrently; print one JSON line per target, in order (exit 0 whatever the outcomes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var targets []agent.Target
			for _, s := range to {
				t, err := agent.ParseTarget(s)
				if err != nil {
					return err
				}
				targets = append(targets, t)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			for _, r := range agent.ProbeAll(cmd.Context(), targets, timeout, parallel, udpPortBase) {
				if err := enc.Encode(r); err != nil {
					return err
				}
			}
			return nil
		},
	}
	probe.Flags().StringArrayVar(&to, "to", nil, "target IP:PORT or IP:PORT/PROTOCOL (TCP, UDP, SCTP); repeat for a batch")
	probe.Flags().DurationVar(&timeout, "timeout", time.Second, "bound on each probe")
	probe.Flags().IntVar(&parallel, "parallel", 64, "probes in flight at once")
	probe.Flags().IntVar(&udpPortBase, "udp-source-port-base", 0, "send the i-th target's UDP probe from this port + i, so no probe rides an earlier flow's conntrack entry (0: the kernel picks)")
	_ = probe.MarkFlagRequired("to")
	// A node prober shares its node's network namespace, so it must not
	// take a port there: it only waits to be exec'd into.
	idle := &cobra.Command{
		Use:   "idle",
		Short: "Listen on nothing and wait for SIGTERM: a host-network pod that only probes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			return nil
		},
	}
	cmd.AddCommand(serve, probe, idle)
	return cmd
}
