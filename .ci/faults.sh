#!/usr/bin/env bash
# Faults in the middle of real runs of the real suite, on the local cluster
# with kube-network-policies: the suite SIGKILLed and SIGTERMed mid-case,
# then the enforcer killed mid-run (last: the cluster is not usable after
# it). Each must give a failing or incomplete report and leave no namespace
# behind (sonobuoy/plugin/realcluster_test.go). Faults that need no cluster
# (an API server that never answers, SIGKILL at 2 s and 6 s) are part of
# `go test ./...`. Needs Linux and root.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOSUMDB=off

bin=_output/bin/netpol-conformance
go build -o "$bin" ./cmd/netpol-conformance
trap 'rc=$?; "$bin" local down || rc=1; exit $rc' EXIT

"$bin" local up --enforcer kube-network-policies </dev/null
"$bin" local load-images
NETPOL_LOCAL_KUBECONFIG="$("$bin" local kubeconfig)" \
NETPOL_CNI="$("$bin" local cni)" \
NETPOL_KILL_ENFORCER="pkill -KILL -x kube-network-po" \
	go test -count=1 -v -run '^TestRealCluster' ./sonobuoy/plugin
