#!/usr/bin/env bash
# A local cluster killed before `local down`, then faults in the middle of
# real runs of the real suite on the local cluster with
# kube-network-policies: the suite SIGKILLed and SIGTERMed mid-case,
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
killed=""
own_chains=""
# The fake host chains below are removed even when a step fails.
remove_own_chains() {
	iptables -D FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD 2>/dev/null || true
	iptables -F CNI-FORWARD 2>/dev/null || true
	iptables -X CNI-FORWARD 2>/dev/null || true
	iptables -X CNI-ADMIN 2>/dev/null || true
	iptables -t nat -D POSTROUTING -j CNI-FORWARD 2>/dev/null || true
	iptables -t nat -X CNI-FORWARD 2>/dev/null || true
	for t in "ip filter" "ip nat"; do
		grep -qx "table $t" <<<"$tables_before" || nft delete table $t 2>/dev/null || true
	done
	own_chains=""
}
trap 'rc=$?; "$bin" local down || rc=1; [ -z "$own_chains" ] || remove_own_chains; [ -z "$killed" ] || "$bin" local down --state-dir "$killed" || rc=1; exit $rc' EXIT

# A host with netfilter state of its own, as podman's or Docker's networks
# leave it: chains of the same name in two tables, and the tables iptables-nft
# shares with kube-proxy. `down` must keep every rule the host had and remove
# what the cluster added (an earlier snapshot format lost the table of each
# rule on sorting and deleted the host's own chains).
tables_before=$(nft list tables)
own_chains=yes
iptables -N CNI-FORWARD && iptables -N CNI-ADMIN
iptables -A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN
iptables -A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
iptables -t nat -N CNI-FORWARD && iptables -t nat -A POSTROUTING -j CNI-FORWARD
own=$(iptables-save | grep -c CNI)
"$bin" local up --enforcer none </dev/null
"$bin" local down </dev/null
[ "$(iptables-save | grep -c CNI)" = "$own" ] || { echo "local down changed the host's own iptables chains"; iptables-save; exit 1; }
remove_own_chains

# A two-node cluster killed outright, with a pod running on its second
# node: `local down` must stop the pod's processes, end both node
# namespaces and the fabric, and prove the host as before, from the record
# alone.
killed=$(mktemp -d /tmp/npkilled.XXXXXX)
"$bin" local up --enforcer kube-network-policies --nodes 2 --state-dir "$killed" </dev/null
_output/bin/kubectl --kubeconfig "$killed/kubeconfig" run orphan --image=localhost/netpol-conformance/agent:local \
	--image-pull-policy=Never --restart=Never --overrides='{"apiVersion":"v1","spec":{"nodeName":"netpol-local-2"}}' \
	--command -- /netpol-agent agent serve --ports=8081 --protocols=TCP
_output/bin/kubectl --kubeconfig "$killed/kubeconfig" wait --for=condition=Ready pod/orphan --timeout=60s
for pidfile in "$killed"/run/*.pid; do
	kill -KILL "$(cut -d' ' -f1 "$pidfile")" 2>/dev/null || true
done
pgrep -f 'agent serve --ports=8081 --protocols=TCP' >/dev/null || { echo "the orphan pod's process did not outlive its cluster"; exit 1; }
"$bin" local down --state-dir "$killed" </dev/null
! pgrep -f 'agent serve --ports=8081 --protocols=TCP' >/dev/null || { echo "the killed two-node cluster's pod is still running"; exit 1; }
[ -z "$(findmnt -rn -o TARGET | grep -F "$killed" || true)" ] || { echo "mounts of the killed two-node cluster are left"; exit 1; }
! ip link show netpolfab0 >/dev/null 2>&1 || { echo "the killed two-node cluster's fabric link is left"; exit 1; }
rm -rf "$killed"
killed=""

# A run killed before `local down` (a CI timeout, a lost session) leaves
# its guard, routes and mounts: the next `up`, from another state dir, must
# tear that cluster down from its own snapshot and go on, not refuse.
killed=$(mktemp -d /tmp/npkilled.XXXXXX)
"$bin" local up --enforcer none --state-dir "$killed" </dev/null
# A pod still running when everything is killed: its processes outlive
# containerd and its shim, and only the kubepods cgroups find them. (8080:
# a non-root process may not bind 80 without the sysctl the suite's pods set.)
kubectl=_output/bin/kubectl
"$kubectl" --kubeconfig "$killed/kubeconfig" run orphan --image=localhost/netpol-conformance/agent:local \
	--image-pull-policy=Never --restart=Never --command -- /netpol-agent agent serve --ports=8080 --protocols=TCP
"$kubectl" --kubeconfig "$killed/kubeconfig" wait --for=condition=Ready pod/orphan --timeout=60s
for pidfile in "$killed"/run/*.pid; do
	kill -KILL "$(cut -d' ' -f1 "$pidfile")" 2>/dev/null || true
done
pgrep -f 'agent serve --ports=8080 --protocols=TCP' >/dev/null || { echo "the orphan pod's process did not outlive its cluster"; exit 1; }
"$bin" local up --enforcer kube-network-policies </dev/null | tee /tmp/npkilled.up.log
grep -q "was killed before \`local down\`" /tmp/npkilled.up.log
# kube-network-policies' up runs no pod but its check pod (deleted again)
# and CoreDNS: a process of the orphan's still alive would be the
# teardown's miss.
! pgrep -f 'agent serve --ports=8080 --protocols=TCP' >/dev/null || { echo "the killed cluster's pod is still running"; exit 1; }
"$bin" local down --state-dir "$killed" | grep -q "nothing to tear down"
rm -rf "$killed" /tmp/npkilled.up.log
killed=""

"$bin" local load-images
NETPOL_LOCAL_KUBECONFIG="$("$bin" local kubeconfig)" \
NETPOL_CNI="$("$bin" local cni)" \
NETPOL_KILL_ENFORCER="pkill -KILL -x kube-network-po" \
	go test -count=1 -v -run '^TestRealCluster' ./sonobuoy/plugin
