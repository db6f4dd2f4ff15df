// Package suite is the netpol-conformance Ginkgo suite on the Kubernetes
// e2e framework: one spec per case of the scenario table, run against a
// real cluster and compared with the reference model. It is built as a
// test binary (go test -c ./suite) and run by the Sonobuoy plugin's
// entrypoint, or directly with --kubeconfig by developers.
package suite
