// Command netpol-conformance checks whether a Kubernetes cluster enforces
// NetworkPolicy the way the networking.k8s.io/v1 API specifies it.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/netpol-conformance/netpol-conformance/internal/cli"
)

func main() {
	if err := cli.NewRootCommand().Execute(); err != nil {
		if !cli.Reported(err) {
			fmt.Fprintf(os.Stderr, "Error: %v\n", err)
			if strings.HasPrefix(err.Error(), "unknown command") {
				fmt.Fprintln(os.Stderr, "Run 'netpol-conformance --help' for usage.")
			}
		}
		var exit *cli.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.Code)
		}
		os.Exit(1)
	}
}
