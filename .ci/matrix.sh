#!/usr/bin/env bash
# The nightly matrix: the whole table through Sonobuoy on every enforcer the
# local cluster runs, one after the other, then one comparison of all of
# them (Markdown, HTML, JUnit) in _output/matrix/. Exits non-zero when a run
# fails its expectation (.ci/sonobuoy.sh: a regression fails it, a known
# deviation does not). About 8 minutes per enforcer once built.
#
#   .ci/matrix.sh [ENFORCER...]     # default: calico kube-network-policies kube-router none
set -euo pipefail
cd "$(dirname "$0")/.."
export GOSUMDB=off

enforcers=("$@")
[ ${#enforcers[@]} -gt 0 ] || enforcers=(calico kube-network-policies kube-router none)
out=_output/matrix
rm -rf "$out" && mkdir -p "$out"
rc=0
for e in "${enforcers[@]}"; do
	echo "=== $e"
	bash .ci/sonobuoy.sh "$e" || rc=1
	cp _output/sonobuoy/"$e"/*.tar.gz "$out/$e.tar.gz" || rc=1
done
runs=()
for e in "${enforcers[@]}"; do
	[ -f "$out/$e.tar.gz" ] && runs+=("$out/$e.tar.gz")
done
go run ./cmd/netpol-conformance compare --markdown "$out/comparison.md" --html "$out/comparison.html" \
	--junit "$out/comparison.xml" --title "NetworkPolicy conformance on the local cluster, $(date -u +%F)" "${runs[@]}"
echo "=== $out/comparison.md"
sed -n '1,12p' "$out/comparison.md"
exit $rc
