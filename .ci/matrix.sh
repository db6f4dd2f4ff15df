#!/usr/bin/env bash
# The nightly matrix: the whole table through Sonobuoy on every enforcer the
# local cluster runs, on one node and on two (MATRIX_NODES), one after the
# other, then one comparison of all of them (Markdown, HTML, JUnit) in
# _output/matrix/, one column per enforcer and node count
# (ENFORCER-Nnodes). An enforcer that runs on one node only (`local up
# --nodes 2` refuses it) is run on one. Exits non-zero when a run fails its
# expectation (.ci/sonobuoy.sh: a regression fails it, a known deviation
# does not). About 11 minutes per run once built.
#
#   .ci/matrix.sh [ENFORCER...]     # default: every enforcer (`local enforcers`)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOSUMDB=off

enforcers=("$@")
[ ${#enforcers[@]} -gt 0 ] || mapfile -t enforcers < <(go run ./cmd/netpol-conformance local enforcers)
out=_output/matrix
rm -rf "$out" && mkdir -p "$out"
rc=0
bin=_output/bin/netpol-conformance
go build -o "$bin" ./cmd/netpol-conformance
runs=()
for e in "${enforcers[@]}"; do
	for n in ${MATRIX_NODES:-1 2}; do
		# (Captured first: grep -q would end the pipe early, and pipefail
		# would count the writer's SIGPIPE as a failure.)
		runs_on=$("$bin" local enforcers --nodes "$n")
		if ! grep -qx "$e" <<<"$runs_on"; then
			echo "=== $e runs on one node only: not run on $n"
			continue
		fi
		name=$e-${n}nodes
		echo "=== $name"
		NETPOL_NODES=$n bash .ci/sonobuoy.sh "$e" || rc=1
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
sed -n '1,12p' "$out/comparison.md"
exit $rc
