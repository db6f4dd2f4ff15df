#!/usr/bin/env bash
# For each enforcer: bring the local cluster up, run the smoke test against
# it, tear it down. `local down` itself fails when the host is not as it was
# before `local up`. The logic lives in Go (localcluster/); see
# docs/local-cluster.md. Needs Linux and root; cold ≈ 17–20 min (estimated:
# the 10 min measured before calico, its 2.5 min build and cilium-agent's
# 4–6.5 min), warm ≈ 126 s (measured with five enforcers, before kube-network-policies-cnp).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOSUMDB=off # the checksum database is unreachable here; go.sum is authoritative

bin=_output/bin/netpol-conformance
go build -o "$bin" ./cmd/netpol-conformance

# Whatever happens, leave no cluster behind; a failing teardown fails the run.
trap 'rc=$?; "$bin" local down || rc=1; exit $rc' EXIT

# (Assigned first, so that a failing listing fails the run.)
all=$("$bin" local enforcers)
for enforcer in $all; do
	case "$enforcer" in
	none) expect=false ;;
	*) expect=true ;;
	esac
	echo "=== local cluster with enforcer $enforcer (NetworkPolicy enforced: $expect)"
	"$bin" local up --enforcer "$enforcer" </dev/null
	NETPOL_LOCAL_KUBECONFIG="$("$bin" local kubeconfig)" NETPOL_EXPECT_ENFORCED="$expect" \
		go test -count=1 -v ./localcluster/smoke
	"$bin" local down
done

# Two nodes, each a namespace on a fabric of its own, with each enforcer
# (every one runs on several): the smoke test proves every step from a client on the
# server's node and from one on the other node. The enforcers' and
# kube-proxy's rules live in the nodes: the host's netfilter must hold the
# guard alone while they run.
# (grep finds nothing on a host without rules of its own: not a failure.)
netfilter() {
	iptables-save | { grep -v '^#' || true; } | sed 's/\[[0-9]*:[0-9]*\]//'
	nft list tables | { grep -vx 'table inet netpol_local_guard' || true; }
}
for enforcer in $all; do
	case "$enforcer" in
	none) expect=false ;;
	*) expect=true ;;
	esac
	echo "=== two-node local cluster with enforcer $enforcer (NetworkPolicy enforced: $expect)"
	host_before=$(netfilter)
	"$bin" local up --enforcer "$enforcer" --nodes 2 </dev/null
	if [ "$(netfilter)" != "$host_before" ]; then
		echo "the host's netfilter changed while the nodes' enforcer runs:"; diff <(echo "$host_before") <(netfilter); exit 1
	fi
	NETPOL_LOCAL_KUBECONFIG="$("$bin" local kubeconfig)" NETPOL_EXPECT_ENFORCED="$expect" \
		go test -count=1 -v ./localcluster/smoke
	"$bin" local down
done
