#!/usr/bin/env bash
# Nightly: the whole table N times in a row on one enforcer of the local
# cluster, then one comparison of the N runs. It fails when any run
# regresses or the runs disagree on any case: a verdict that changes from
# run to run on an unchanged cluster is a flaky verdict, and a flaky
# verdict is one a user cannot act on. The suite binary is run directly
# (about 6.5 min per run on kube-network-policies; through Sonobuoy, which
# adds nothing to what is measured here, about 11). Needs Linux and root.
#
#   .ci/repeat.sh [ENFORCER [N]]     # default: kube-network-policies 10
#
# The runs and comparison.md are left in _output/repeat/ENFORCER.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOSUMDB=off

enforcer=${1:-kube-network-policies}
n=${2:-10}
bin=_output/bin/netpol-conformance
suite=_output/bin/netpol-suite
out=_output/repeat/$enforcer

go build -o "$bin" ./cmd/netpol-conformance
go test -c -o "$suite" ./suite
trap 'rc=$?; "$bin" local down || rc=1; exit $rc' EXIT
"$bin" local up --enforcer "$enforcer" </dev/null
"$bin" local load-images
kubeconfig=$("$bin" local kubeconfig)
cni=$("$bin" local cni)

rm -rf "$out" && mkdir -p "$out"
rc=0
reports=()
for i in $(seq -w 1 "$n"); do
	echo "=== run $i of $n on $cni"
	mkdir -p "$out/run-$i"
	start=$(date +%s)
	"$suite" --kubeconfig="$kubeconfig" --ginkgo.timeout=30m --ginkgo.no-color \
		--netpol.cni="$cni" --netpol.junit-report="$out/run-$i/run-$i.xml" \
		>"$out/run-$i/suite.log" 2>&1 || echo "run $i: the suite exited $? (see $out/run-$i/suite.log)"
	echo "run $i took $(($(date +%s) - start)) s"
	# The journal is the record (times to enforce included); named for
	# its run in the comparison.
	cp "$out/run-$i/journal.jsonl" "$out/run-$i.jsonl"
	reports+=("$out/run-$i.jsonl")
done
"$bin" compare --markdown "$out/comparison.md" "${reports[@]}" || rc=1
awk '/^\| run/ { p = 1 } p && !/^\|/ { exit } p' "$out/comparison.md"
if ! grep -q '^## Where the runs disagree (0 cases)' "$out/comparison.md"; then
	echo "FLAKY: the runs disagree (see $out/comparison.md)"
	rc=1
fi
# In every run's summary row (split on "|", $1 is empty): regressions ($8)
# and cases not run ($9) must be 0.
if awk -F' *\\| *' '$2 ~ /^run-/ && ($8 != "0" || $9 != "0") {bad=1} END {exit !bad}' "$out/comparison.md"; then
	echo "a run regressed or did not run every case (see $out/comparison.md)"
	rc=1
fi
exit $rc
