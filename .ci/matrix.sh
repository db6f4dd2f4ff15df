#!/usr/bin/env bash
# The nightly matrix: the whole table through Sonobuoy on every enforcer the
# local cluster runs, on one node and on two (MATRIX_NODES), one after the
# other, then one comparison of all of them (Markdown, HTML, JUnit) in
# _output/matrix/, one column per enforcer and node count
# (ENFORCER-Nnodes). Exits non-zero when a run fails its
# expectation (.ci/sonobuoy.sh: a regression fails it, a known deviation
# does not). About 11 minutes per run once built.
#
#   .ci/matrix.sh [ENFORCER...]     # default: every enforcer (`local enforcers`)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOSUMDB=off

bin=_output/bin/netpol-conformance
go build -o "$bin" ./cmd/netpol-conformance
# (Assigned first, so that a failing listing fails the run.)
known=$("$bin" local enforcers)
enforcers=("$@")
[ ${#enforcers[@]} -gt 0 ] || mapfile -t enforcers <<<"$known"
for e in "${enforcers[@]}"; do
	grep -qx "$e" <<<"$known" || { echo "unknown enforcer $e (known: $(echo $known))"; exit 1; }
done
out=_output/matrix
rm -rf "$out" && mkdir -p "$out"
rc=0
runs=()
for e in "${enforcers[@]}"; do
	for n in ${MATRIX_NODES:-1 2}; do
		name=$e-${n}nodes
		echo "=== $name"
		# Cilium fails two service cases no profile entry explains yet
		# (docs/findings.md, "open questions"): expected until settled, so
		# that its run does not hide another enforcer's regression.
		expect=passed
		[ "$e" != cilium ] || expect=failed
		[ "$e" != none ] || expect=failed
		NETPOL_EXPECT_STATUS=$expect NETPOL_NODES=$n bash .ci/sonobuoy.sh "$e" || rc=1
		if cp _output/sonobuoy/"$e"/*.tar.gz "$out/$name.tar.gz"; then
			runs+=("$out/$name.tar.gz")
		else
			rc=1
		fi
	done
done
go run ./cmd/netpol-conformance compare --markdown "$out/comparison.md" --html "$out/comparison.html" \
	--junit "$out/comparison.xml" --title "NetworkPolicy conformance on the local cluster, $(date -u +%F)" "${runs[@]}"
echo "=== $out/comparison.md"
# The summary table, whatever comes before it.
awk '/^\| run/ { p = 1 } p && !/^\|/ { exit } p' "$out/comparison.md"
exit $rc
