#!/usr/bin/env bash
# Runs netpol-conformance on the local cluster as a user would: through
# Sonobuoy. Builds the plugin image (in Go, as the Dockerfile describes it) and Sonobuoy from
# its pinned module, brings the local cluster up with the given enforcer,
# loads both images, then `sonobuoy run --plugin plugin.yaml --wait`,
# `retrieve`, `results` (summary and detailed), `delete --wait`, and
# `local down` whatever happens. Needs Linux and root.
#
#   .ci/sonobuoy.sh [ENFORCER]          # default kube-router; or none, ...
#
# The plugin's verdict must match NETPOL_EXPECT_STATUS (passed, or failed
# for an enforcer that enforces nothing: default failed for `none`, passed
# otherwise). Extra `sonobuoy run` flags, e.g. --plugin-env, go in
# SONOBUOY_RUN_FLAGS. The results tarball is left in _output/sonobuoy/ENFORCER.
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

# Whatever happens, leave no Sonobuoy run and no cluster behind; a failing
# teardown fails the run.
cleanup() {
	rc=$?
	if [ -n "${KUBECONFIG:-}" ]; then
		"$sonobuoy" delete --wait=5 --wait-output silent || rc=1
	fi
	"$bin" local down || rc=1
	exit $rc
}
trap cleanup EXIT

echo "=== local cluster with enforcer $enforcer"
"$bin" local up --enforcer "$enforcer" </dev/null
KUBECONFIG=$("$bin" local kubeconfig)
export KUBECONFIG
"$bin" local load-images

echo "=== sonobuoy run --plugin plugin.yaml"
# The local cluster has no CoreDNS: the suite addresses pods by IP, so the
# DNS preflight check does not apply.
start=$(date +%s)
# The enforcer runs as a host process, invisible to the suite's CNI
# detection: name it, as a user would for an enforcer detection cannot see.
# Calico is the exception: its CRDs and ClusterInformation (which names its
# version, as calico-node keeps it in a real cluster) are in the cluster, and
# the suite must detect it on its own.
cni=$("$bin" local cni)
echo "enforcer: $cni"
name_cni=(--plugin-env "netpol-conformance.NETPOL_CNI=$cni")
[ "$enforcer" != calico ] || name_cni=()
# shellcheck disable=SC2086 # SONOBUOY_RUN_FLAGS is a list of flags
"$sonobuoy" run --plugin plugin.yaml --skip-preflight=dnscheck \
	"${name_cni[@]}" \
	--wait="${SONOBUOY_WAIT_MINUTES:-60}" --wait-output silent ${SONOBUOY_RUN_FLAGS:-}
echo "sonobuoy run finished in $(($(date +%s) - start)) s"
"$sonobuoy" status || true

rm -rf "$out" && mkdir -p "$out"
tarball=$("$sonobuoy" retrieve "$out")
echo "=== sonobuoy results $tarball"
"$sonobuoy" results "$tarball"
echo "=== sonobuoy results --mode detailed"
"$sonobuoy" results "$tarball" --mode detailed

status=$("$sonobuoy" results "$tarball" --plugin netpol-conformance | awk '/^Status:/ {print $2; exit}')
echo "=== plugin status: $status (expected: $expect)"
if [ "$enforcer" = none ]; then
	# Nothing enforces NetworkPolicy: the run must say so in one line, and
	# no case may pass.
	# (Captured first: grep -q would end the pipe early, and pipefail
	# would count sonobuoy's SIGPIPE as a failure.)
	detailed=$("$sonobuoy" results "$tarball" --mode detailed)
	grep -q 'NetworkPolicy is NOT enforced on this cluster' <<<"$detailed" ||
		{ echo "the results do not say that NetworkPolicy is not enforced"; exit 1; }
	passed=$("$sonobuoy" results "$tarball" --plugin netpol-conformance | awk '/^Passed:/ {print $2; exit}')
	[ "$passed" = 0 ] || { echo "$passed specs passed on a cluster that enforces nothing"; exit 1; }
fi
# The report names the enforcer it was read against.
summary=$("$bin" compare "$tarball" | sed -n 5p)
echo "=== compare: $summary"
want="| ${cni%@*} ${cni#*@} |"
[ "${cni#*@}" != "$cni" ] || want="| $cni |"
[[ "$summary" == *"$want"* ]] || { echo "the report does not name the enforcer $cni"; exit 1; }
"$sonobuoy" delete --wait=5 --wait-output silent
[ "$status" = "$expect" ]
