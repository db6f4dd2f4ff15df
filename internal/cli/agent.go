package cli

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

func newAgentCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "The in-pod agent: serve connections and probe peers",
	}
	var ports []int
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Answer TCP connections on the given ports with this pod's namespace/name",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return agent.Serve(ctx, ports, agent.Identity())
		},
	}
	serve.Flags().IntSliceVar(&ports, "ports", []int{80, 81}, "TCP ports to listen on")

	var to string
	var timeout time.Duration
	probe := &cobra.Command{
		Use:   "probe",
		Short: "Make one TCP connection and print the outcome as one JSON line (exit 0 whatever the outcome)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := agent.Probe(context.Background(), to, timeout)
			return json.NewEncoder(cmd.OutOrStdout()).Encode(r)
		},
	}
	probe.Flags().StringVar(&to, "to", "", "IP:PORT to connect to")
	probe.Flags().DurationVar(&timeout, "timeout", time.Second, "bound on connect and read")
	_ = probe.MarkFlagRequired("to")
	cmd.AddCommand(serve, probe)
	return cmd
}
