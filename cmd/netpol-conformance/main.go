// Command netpol-conformance checks whether a Kubernetes cluster enforces
// NetworkPolicy the way the networking.k8s.io/v1 API specifies it.
package main

import (
	"os"

	"github.com/netpol-conformance/netpol-conformance/internal/cli"
)

func main() {
	if err := cli.NewRootCommand().Execute(); err != nil {
		os.Exit(1)
	}
}
