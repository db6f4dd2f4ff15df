// Command netpol-pause is the local cluster's pod sandbox process: it holds
// the pod's namespaces, reaps orphaned children (it is PID 1 of the pod) and
// exits on SIGINT or SIGTERM. It exists because no registry is reachable to
// pull the upstream pause image.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			return
		}
		for {
			var ws syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
