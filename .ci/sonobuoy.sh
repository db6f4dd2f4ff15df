#!/usr/bin/env bash
# Runs netpol-conformance on the local cluster as a user would: the
# README's `netpol-conformance local run --enforcer ENFORCER` (up, images,
# `sonobuoy run --plugin plugin.yaml` with progress, retrieve, results,
# delete, down), then checks what it gave: the plugin's status, the
# detailed results, the enforcer named in the report. Needs Linux and root.
#
#   .ci/sonobuoy.sh [ENFORCER]          # default kube-router; or none, ...
#
# The plugin's verdict must match NETPOL_EXPECT_STATUS (passed, or failed
# for an enforcer that enforces nothing: default failed for `none`, passed
# otherwise). Extra `sonobuoy run` flags, e.g. --plugin-env, go in
# SONOBUOY_RUN_FLAGS. NETPOL_PLUGIN_ARCHIVE runs the plugin image in that
# docker-archive (`local build-image`'s) instead of the one assembled in Go.
# NETPOL_NODES (default 1) is the cluster's node count: on two or more, the
# record must show the topology's pods spread over them.
# The results tarball is left in _output/sonobuoy/ENFORCER.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOSUMDB=off # the checksum database is unreachable here; go.sum is authoritative

enforcer=${1:-kube-router}
case "$enforcer" in
none) expect=${NETPOL_EXPECT_STATUS:-failed} ;;
*) expect=${NETPOL_EXPECT_STATUS:-passed} ;;
esac
bin=_output/bin/netpol-conformance
out=_output/sonobuoy/$enforcer

go build -o "$bin" ./cmd/netpol-conformance
sonobuoy=$("$bin" local build-sonobuoy)
"$sonobuoy" version --short
# A failing teardown fails the run (local run tears down itself; this is
# for a run that stops before it).
trap 'rc=$?; "$bin" local down || rc=1; exit $rc' EXIT

# The README's command. It names the enforcer with NETPOL_CNI as a user
# would for one detection cannot see (a host process), except Calico, whose
# CRDs and ClusterInformation are in the cluster: the suite must detect it
# on its own.
cni=$("$bin" local cni --enforcer "$enforcer")
rm -rf "$out"
start=$(date +%s)
run_flags=()
for f in ${SONOBUOY_RUN_FLAGS:-}; do run_flags+=("--sonobuoy-flag=$f"); done
[ -z "${NETPOL_PLUGIN_ARCHIVE:-}" ] || run_flags+=("--plugin-archive=$NETPOL_PLUGIN_ARCHIVE")
nodes=${NETPOL_NODES:-1}
run_flags+=("--nodes=$nodes")
# local run exits 0 when the plugin passed, 3 when it failed and all else
# worked (its teardown included), 1 on any other error.
rc=0
"$bin" local run --enforcer "$enforcer" --out "$out" --wait "${SONOBUOY_WAIT_MINUTES:-60}m" "${run_flags[@]}" </dev/null || rc=$?
echo "the whole run took $(($(date +%s) - start)) s; local run exited $rc"
case "$expect/$rc" in
passed/0 | failed/3) ;;
*) echo "local run exited $rc, expected $([ "$expect" = passed ] && echo 0 || echo 3) (plugin $expect)"; exit 1 ;;
esac
shopt -s nullglob
tarballs=("$out"/*.tar.gz)
[ ${#tarballs[@]} -eq 1 ] || { echo "local run left ${#tarballs[@]} result tarballs in $out, want 1"; exit 1; }
tarball=${tarballs[0]}
echo "=== sonobuoy results --mode detailed"
"$sonobuoy" results "$tarball" --mode detailed

plugin=$("$sonobuoy" results "$tarball" --plugin netpol-conformance)
status=$(awk '/^Status:/ {print $2; exit}' <<<"$plugin")
echo "=== plugin status: $status (expected: $expect)"
if [ "$enforcer" = none ]; then
	# Nothing enforces NetworkPolicy: the run must say so in one line, and
	# no case may pass.
	# (Captured first: grep -q would end the pipe early, and pipefail
	# would count sonobuoy's SIGPIPE as a failure.)
	detailed=$("$sonobuoy" results "$tarball" --mode detailed)
	grep -q 'NetworkPolicy is NOT enforced on this cluster' <<<"$detailed" ||
		{ echo "the results do not say that NetworkPolicy is not enforced"; exit 1; }
	passed=$(awk '/^Passed:/ {print $2; exit}' <<<"$plugin")
	[ "$passed" = 0 ] || { echo "$passed specs passed on a cluster that enforces nothing"; exit 1; }
fi
if [ "$nodes" -gt 1 ] && [ "$enforcer" != none ]; then
	# Every case recorded where its pods ran: on a multi-node cluster the
	# suite spreads them over up to three nodes. (With nothing enforcing,
	# the suite stops at its first check and runs no case: checked above.)
	journal=$(tar -xzOf "$tarball" --wildcards '*/journal.jsonl')
	placement=$(grep -m1 -o '"placement":{[^}]*}' <<<"$journal") || { echo "no case recorded a placement"; exit 1; }
	spread=$(grep -o ':"[^"]*"' <<<"$placement" | sort -u | wc -l)
	want=$((nodes < 3 ? nodes : 3))
	echo "=== the first case's pods ran on $spread nodes (want $want)"
	[ "$spread" = "$want" ] || { echo "the topology's pods were not spread over the nodes"; exit 1; }
fi
if [ "$enforcer" != none ]; then
	# Each cluster-wide policy API: where the cluster serves it, its check
	# passed; where it does not, the check and every case of its family
	# were skipped, each saying why. (With nothing enforcing NetworkPolicy
	# every case is skipped for that first: checked above.)
	journal=$(tar -xzOf "$tarball" --wildcards '*/journal.jsonl')
	served=$(grep -m1 '^{"cluster":' <<<"$journal")
	for pair in AdminNetworkPolicy:admin-network-policy ClusterNetworkPolicy:cluster-network-policy; do
		api=${pair%%:*} family=${pair#*:}
		if [[ "$served" == *"\"kind\":\"$api\""* ]]; then
			grep -q "\"name\":\"$api is enforced\",\"outcome\":\"passed\"" <<<"$journal" ||
				{ echo "the cluster serves $api, but its check did not pass"; exit 1; }
			echo "=== $api is served here, and enforced"
			continue
		fi
		n=0
		for c in "$api is enforced" $("$bin" list | awk -v f="$family" '$2 == f {print $1}'); do
			grep -q "\"name\":\"$c\",\"outcome\":\"skipped\",\"message\":\"the cluster does not serve " <<<"$journal" ||
				{ echo "$c was not skipped for want of $api"; exit 1; }
			n=$((n + 1))
		done
		echo "=== $api is not served here: its check and $((n - 1)) cases were skipped, saying so"
	done
fi
# The report names the enforcer it was read against.
# (The run's row is the first after the table's header; a banner may
# come before the table.)
summary=$("$bin" compare "$tarball" | awk '/^\|---/ { getline; print; exit }')
echo "=== compare: $summary"
want="| ${cni%@*} ${cni#*@} |"
[ "${cni#*@}" != "$cni" ] || want="| $cni |"
[[ "$summary" == *"$want"* ]] || { echo "the report does not name the enforcer $cni"; exit 1; }
[ "$status" = "$expect" ]
